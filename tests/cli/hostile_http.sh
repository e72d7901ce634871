# tests/cli/hostile_http.sh - hostile HTTP clients and exposure, for serve,
# its built-in fake Stripe and the proxy's control API. Sourced by
# tests/cli_test.sh: the loopback rule and the 400 for an unresolvable
# upstream, then itself with --inside under scripts/servers.sh, where
# scripts/slow_clients.py holds twice each cap with dripped headers or
# bodies (valid requests answered within 1 s, drippers closed at the 1 s
# --head-timeout) and opens more than each cap (503 and close); a refused
# change of a proxy's addresses keeps the proxy. Loopback only, bounded.
#   bash tests/cli/hostile_http.sh --inside BIN

hostile_inside() {
	local bin=$1 pass=0 fail=0 dir pid="" ppid_="" url="" fake="" ctl=""
	dir=$(mktemp -d /tmp/faultline-hostile.XXXXXX)
	hostile_cleanup() {
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		[ -n "$ppid_" ] && kill "$ppid_" 2>/dev/null
		rm -rf "$dir"
	}
	trap hostile_cleanup EXIT
	check() { # description command...
		local what=$1
		shift
		if "$@" >"$dir/log" 2>&1; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "FAIL: $what"
			sed 's/^/    /' "$dir/log" | head -20
		fi
	}
	FAULTLINE_WEBHOOK_SECRET=whsec_hostile timeout 120 "$bin" serve --listen 127.0.0.1:0 \
		--head-timeout 1 >"$dir/out" 2>"$dir/err" &
	pid=$!
	timeout 60 "$bin" proxy --control 127.0.0.1:0 --head-timeout 1 >"$dir/pout" 2>"$dir/perr" &
	ppid_=$!
	for _ in $(seq 1 100); do
		url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$dir/out")
		ctl=$(sed -n 's/^control \(.*\)$/http:\/\/\1/p' "$dir/pout")
		[ -n "$url" ] && [ -n "$ctl" ] && break
		sleep 0.05
	done
	fake=$(sed -n 's/.*built-in fake at \(http:[^ ,]*\).*/\1/p' "$dir/out")
	if [ -z "$url" ] || [ -z "$ctl" ] || [ -z "$fake" ]; then
		echo "FAIL: serve or proxy did not start: $(cat "$dir/err" "$dir/perr")"
		echo "hostile_http: 0 passed, 1 failed"
		return 1
	fi
	local sc=scripts/slow_clients.py
	check "serve: 512 dripping clients (2x the cap)" timeout 60 python3 $sc drip "$url" \
		--conns 512 --deadline 1
	check "serve: 512 clients dripping a body (2x the cap)" timeout 60 python3 $sc drip "$url" \
		--conns 512 --deadline 1 --body
	check "serve: past 256 connections, 503 and close" timeout 60 python3 $sc cap "$url" --cap 256
	check "fake Stripe: 512 dripping clients" timeout 60 python3 $sc drip "$fake" \
		--conns 512 --deadline 1 --path /v1/customers
	check "fake Stripe: past 256 connections, 503 and close" timeout 60 python3 $sc cap "$fake" \
		--cap 256 --path /v1/customers
	check "control API: 128 dripping clients (2x the cap)" timeout 60 python3 $sc drip "$ctl" \
		--conns 128 --deadline 1 --path /proxies
	check "control API: 128 clients dripping a body" timeout 60 python3 $sc drip "$ctl" \
		--conns 128 --deadline 1 --path /proxies --body
	check "control API: past 64 connections, 503 and close" timeout 60 python3 $sc cap "$ctl" \
		--cap 64 --path /proxies
	# Still alive, and stops cleanly.
	local st
	st=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "$url/api/quotes/email" -d '{}')
	if [ "$st" = 400 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: serve after the storm: HTTP $st"; fi
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	pid=""
	if [ "$st" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: serve exit $st after SIGTERM: $(tail -3 "$dir/err")"; fi
	echo "hostile_http: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

if [ "${1:-}" = --inside ]; then
	hostile_inside "$2"
	exit
fi

# -- exposure: loopback unless told otherwise
expect_status 2 "serve --listen 0.0.0.0 refused" env FAULTLINE_WEBHOOK_SECRET=s "$bin" serve \
	--listen 0.0.0.0:0 --redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x"
expect_output 'not loopback: refused without --allow-remote' "serve names the opt-in" \
	env FAULTLINE_WEBHOOK_SECRET=s "$bin" serve --listen 0.0.0.0:0 \
	--redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x"
expect_status 3 "serve --allow-remote gets past the rule (then Redis is unreachable)" \
	env FAULTLINE_WEBHOOK_SECRET=s "$bin" serve --allow-remote --listen 0.0.0.0:0 \
	--redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x"
expect_status 2 "serve --head-timeout bad" env FAULTLINE_WEBHOOK_SECRET=s "$bin" serve \
	--head-timeout 0 --redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1"
expect_status 2 "proxy --control 0.0.0.0 refused" "$bin" proxy --control 0.0.0.0:0
expect_status 2 "proxy --listen 0.0.0.0 refused" "$bin" proxy --listen 0.0.0.0:0 \
	--upstream 127.0.0.1:1
expect_output 'head-timeout S' "proxy --help names --head-timeout" "$bin" proxy --help
expect_output 'allow-remote' "proxy --help names --allow-remote" "$bin" proxy --help

hostile_api() { # the control API: remote listen 400, unresolvable upstream 400, and a
	# refused change of an existing proxy leaves it as it was
	local out ctl pid st1 st2 st3 st4 st5 st6 st7 before after busy
	out=$(mktemp /tmp/faultline-hostile-api.XXXXXX)
	timeout 20 "$bin" proxy --control 127.0.0.1:0 >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		ctl=$(sed -n 's/^control //p' "$out")
		[ -n "$ctl" ] && break
		sleep 0.05
	done
	post() { # METHOD PATH BODY: the status
		curl -s -m 5 -o /dev/null -w '%{http_code}' -X "$1" "http://$ctl$2" -d "$3"
	}
	st1=$(post POST /proxies '{"name":"r","listen":"0.0.0.0:0","upstream":"127.0.0.1:1"}')
	st2=$(post POST /proxies \
		'{"name":"u","listen":"127.0.0.1:0","upstream":"no-such-host.invalid:6379"}')
	st3=$(post POST /proxies '{"name":"l","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}')
	post POST /proxies/l/toxics '{"name":"slow","type":"latency","attributes":{"latency":5}}' \
		>/dev/null
	before=$(curl -s -m 5 "http://$ctl/proxies/l")
	st4=$(post POST /proxies/l '{"listen":"0.0.0.0:0"}')
	st5=$(post PATCH /proxies/l '{"upstream":"no-such-host.invalid:6379"}')
	st6=$(post POST /populate '[{"name":"l","listen":"0.0.0.0:0","upstream":"127.0.0.1:1"}]')
	# A port already taken (the control API's own): refused, the proxy back.
	busy=${ctl##*:}
	st7=$(post POST /proxies/l "{\"listen\":\"127.0.0.1:$busy\"}")
	after=$(curl -s -m 5 "http://$ctl/proxies/l")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$out"
	echo "remote=$st1 unresolvable=$st2 loopback=$st3"
	echo "changes of l: remote=$st4 unresolvable=$st5 populate=$st6 port-taken=$st7"
	echo "before: $before"
	echo "after:  $after"
	[ "$st1" = 400 ] && [ "$st2" = 400 ] && [ "$st3" = 201 ] && [ "$st4" = 400 ] &&
		[ "$st5" = 400 ] && [ "$st6" = 400 ] && [ "$st7" = 500 ] && [ -n "$before" ] &&
		[ "$before" = "$after" ]
}
expect_status 0 "control API: 400 for a remote listen and an unresolvable upstream; a refused change keeps the proxy, its port and toxics" hostile_api
expect_status 0 "hostile clients: dripped heads, connection caps (serve, fake Stripe, control API)" \
	timeout 200 scripts/servers.sh run --redis --pg -- bash tests/cli/hostile_http.sh --inside "$bin"
