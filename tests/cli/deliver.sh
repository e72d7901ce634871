# tests/cli/deliver.sh - `faultline deliver` against a small Python endpoint
# (tests/data/deliver/endpoint.py) on a free loopback port: a correct one
# holds every rule, one that 500s on duplicates or accepts any signature
# is caught, usage errors exit 2, a closed port exits 3. Sourced by
# tests/cli_test.sh.
deliver_dir=$(mktemp -d /tmp/faultline-deliver.XXXXXX)
deliver_pid=""
deliver_endpoint() { # MODE: starts the endpoint, sets deliver_url
	rm -f "$deliver_dir/port"
	python3 tests/data/deliver/endpoint.py "$deliver_dir/port" whsec_test "$1" &
	deliver_pid=$!
	for _ in $(seq 1 100); do
		[ -s "$deliver_dir/port" ] && break
		sleep 0.05
	done
	deliver_url="http://127.0.0.1:$(cat "$deliver_dir/port")/webhooks/stripe"
}
deliver_stop() {
	[ -n "$deliver_pid" ] && kill "$deliver_pid" 2>/dev/null && wait "$deliver_pid" 2>/dev/null
	deliver_pid=""
}
deliver_args="--secret whsec_test --copies 3 --reorder --refunds --time-scale 1000000"

expect_status 2 "deliver without --to" "$bin" deliver --secret s
expect_status 2 "deliver with a bad --copies" "$bin" deliver --to http://127.0.0.1:1/ --secret s --copies 0
expect_status 2 "deliver with a non-http URL" "$bin" deliver --to ftp://x/ --secret s
expect_output "bad value 'x' for --time-scale" "deliver names the bad option" \
	"$bin" deliver --to http://127.0.0.1:1/ --secret s --time-scale x
printf 'deliver:\n  copies: lots\n' >"$deliver_dir/bad.yaml"
expect_output "bad value 'lots' for --copies" "deliver: a bad scenario value is named" \
	"$bin" deliver --to http://127.0.0.1:1/ --secret s --scenario "$deliver_dir/bad.yaml"
printf 'checks:\n  - sql: "select 1"\n    expect: 1\n' >"$deliver_dir/checks.yaml"
expect_output "checks.yaml declares checks: want --database" "deliver: checks want a database" \
	"$bin" deliver --to http://127.0.0.1:1/ --secret s --scenario "$deliver_dir/checks.yaml"
expect_status 3 "deliver: an unreachable database exits 3" \
	"$bin" deliver --to http://127.0.0.1:1/ --secret s --scenario "$deliver_dir/checks.yaml" \
	--database "host=127.0.0.1 port=9 connect_timeout=2"

deliver_endpoint good
expect_status 0 "deliver: a correct endpoint holds" \
	"$bin" deliver --to "$deliver_url" $deliver_args --report "$deliver_dir/good"
expect_output '"held": true' "deliver writes report.json" cat "$deliver_dir/good/report.json"
expect_status 0 "deliver writes junit.xml" test -s "$deliver_dir/good/junit.xml"
deliver_stop

deliver_endpoint dup500
expect_status 1 "deliver: 500 on a duplicate is caught" \
	"$bin" deliver --to "$deliver_url" $deliver_args --report "$deliver_dir/dup"
expect_output 'duplicate-not-5xx' "deliver names the duplicate rule" \
	cat "$deliver_dir/dup/junit.xml"
deliver_stop

deliver_endpoint nosig
expect_output 'bad-signature-refused +VIOLATED' "deliver: any signature accepted is caught" \
	"$bin" deliver --to "$deliver_url" $deliver_args
deliver_stop

# A check broken first by the last object: the report shows that object's
# timeline (the event index once read past the end of the events and the
# command aborted). The sequence makes the check hold for the first four.
deliver_endpoint good
cat >"$deliver_dir/late.yaml" <<'EOF'
checks:
  - name: the first four objects
    sql: "select nextval('deliver_late') < 5"
    expect: "t"
EOF
cat >"$deliver_dir/late.py" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1]))
inv = r["results"][0]["invariants"]["sql: the first four objects"]
assert not inv["held"], inv
event = re.search(r"event=(\S+)", inv["message"]).group(1)
assert any(event in t["label"] for t in inv["timeline"]), (event, inv["timeline"])
EOF
expect_status 0 "deliver: a check broken by the last object shows its timeline" \
	scripts/servers.sh run --pg -- sh -c '
	psql -qX "$FAULTLINE_PG_URL" -c "create sequence deliver_late" || exit 9
	"$1" deliver --to "$2" --secret whsec_test --copies 2 --intents 5 --time-scale 1000000 \
		--scenario "$3/late.yaml" --database "$FAULTLINE_PG_URL" --report "$3/late" >"$3/late.out" 2>&1
	rc=$?
	[ "$rc" -eq 1 ] || { echo "exit $rc, want 1"; cat "$3/late.out"; exit 1; }
	python3 "$3/late.py" "$3/late/report.json"' sh "$bin" "$deliver_url" "$deliver_dir"
deliver_stop

expect_status 3 "deliver: nothing listening exits 3" \
	"$bin" deliver --to "http://127.0.0.1:9/" --secret s --retries 1 --time-scale 1000000
rm -rf "$deliver_dir"

# The example: a naive and a correct Node.js endpoint on a throwaway
# PostgreSQL; the naive one breaks the scenario's SQL checks.
expect_status 0 "deliver: examples/deliver naive fails, correct passes" \
	scripts/servers.sh run --pg -- env FAULTLINE="$bin" tests/deliver_example.sh
