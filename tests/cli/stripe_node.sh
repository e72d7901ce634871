# tests/cli/stripe_node.sh - the official stripe-node client (the exact
# version pinned in tests/stripe_node/package-lock.json, installed with
# `npm ci` into build/stripe_node) against `faultline stripe`: plain calls,
# then the client's own retries under tests/stripe_node/faults.yaml. Sourced
# by tests/cli_test.sh; skipped, saying so, only when npm cannot reach the
# registry.   bash tests/cli/stripe_node.sh --inside BIN

stripe_node_inside() {
	local bin=$1 root dir log rc=0
	root=$(pwd)
	dir=$root/build/stripe_node
	log=$(mktemp -d /tmp/faultline-stripe-node.XXXXXX)
	# not local: the EXIT trap runs after this function has returned, when
	# its locals are gone (the fakes used to outlive the test)
	stripe_node_pids=()
	stripe_node_log=$log
	cleanup_stripe_node() {
		local p
		for p in "${stripe_node_pids[@]}"; do kill "$p" 2>/dev/null; done
		rm -rf "$stripe_node_log"
	}
	trap cleanup_stripe_node EXIT
	command -v node >/dev/null && command -v npm >/dev/null ||
		{ echo "stripe_node: node and npm are needed (scripts/deps.sh live)"; return 1; }
	mkdir -p "$dir"
	cp tests/stripe_node/package.json tests/stripe_node/package-lock.json \
		tests/stripe_node/test.js "$dir/"
	if ! (cd "$dir" && timeout 180 npm ci --no-audit --no-fund >"$log/npm" 2>&1); then
		if grep -qiE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|network' "$log/npm"; then
			echo "SKIP: stripe_node: npm cannot reach the registry:"
			tail -3 "$log/npm"
			return 0
		fi
		echo "stripe_node: npm ci failed:"; tail -20 "$log/npm"
		return 1
	fi
	# start-fake NAME ARGS...: sets port_NAME from the start-up line
	start_fake() {
		local name=$1 i
		shift
		"$bin" stripe --listen 127.0.0.1:0 "$@" >"$log/$name" 2>&1 &
		stripe_node_pids+=($!)
		for i in $(seq 50); do
			grep -q 'listening on' "$log/$name" && break
			sleep 0.1
		done
		port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\);.*|\1|p' "$log/$name")
		[ -n "$port" ] || { echo "stripe_node: $name did not start:"; cat "$log/$name"; return 1; }
	}
	local port
	start_fake plain || return 1
	(cd "$dir" && timeout 60 node test.js plain "$port" sk_test_faultline_serve) || rc=1
	start_fake faults --api-key sk_test_node_faults --scenario tests/stripe_node/faults.yaml \
		--hold-ms 2000 || return 1
	(cd "$dir" && timeout 60 node test.js faults "$port" sk_test_node_faults) || rc=1
	return $rc
}

if [ "${1:-}" = --inside ]; then
	stripe_node_inside "$2"
	exit
fi

expect_status 0 "stripe --help" "$bin" stripe --help
expect_output "default sk_test_faultline_serve" "stripe --help names the default key" "$bin" stripe --help
expect_status 2 "stripe refuses a non-loopback address" "$bin" stripe --listen 0.0.0.0:0
expect_status 2 "stripe with a bad scenario" "$bin" stripe --scenario /nonexistent.yaml
expect_status 2 "stripe with a stray argument" "$bin" stripe extra
expect_status 0 "stripe-node against faultline stripe (customers, intents, retries)" \
	bash tests/cli/stripe_node.sh --inside "$bin"
