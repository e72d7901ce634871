# tests/cli/shrink.sh - faultline shrink: for a known bug of each fix, the
# shrunk file is a valid scenario that violates the same invariant under
# the buggy variant (under every seed when it says so), holds under
# hardened, is no bigger than 1.5x the hand-written minimal reproduction in
# tests/data/shrink/, and comes out byte-identical twice; schedule: entries
# fire on the nth operation; the errors. Sourced by tests/cli_test.sh.
sh_dir=$(mktemp -d /tmp/faultline-shrink.XXXXXX)

# shrink_case FIX SCENARIO VARIANT INVARIANT SEED
shrink_case() {
	local fix=$1 sc=$2 v=$3 inv=$4 seed=$5 out="$sh_dir/$1.min.yaml"
	expect_status 0 "shrink $sc seed $seed ($v)" \
		"$bin" shrink "$sc" --seed "$seed" -v "$v" --invariant "$inv" -o "$out" -q
	local said
	said=$("$bin" shrink "$sc" --seed "$seed" -v "$v" --invariant "$inv" -o "$out.again" -q 2>&1)
	if cmp -s "$out" "$out.again"; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: shrink of $sc is not deterministic"; fi
	expect_status 0 "the shrunk $fix file is a valid scenario" "$bin" check "$out"
	expect_output "^FAIL .* $inv [0-9]+/[0-9]+" "the shrunk $fix file violates $inv under $v" \
		"$bin" run -q -v "$v" "$out"
	expect_output "0 violated" "the shrunk $fix file holds under hardened" \
		"$bin" run -q -v hardened "$out"
	if grep -q "under every seed tried" <<<"$said"; then
		expect_output "^FAIL .* $inv 8/8" "the shrunk $fix file fails under all 8 of its seeds" \
			"$bin" run -q -v "$v" "$out"
	fi
	local got want
	got=$(sed -nE 's/^  ([0-9]+) events, was [0-9]+.*/\1/p' <<<"$said")
	want=$("$bin" run -v "$v" --stats -n 1 "tests/data/shrink/$fix.yaml" 2>&1 |
	       sed -nE 's/.*stats: ([0-9]+) events in.*/\1/p')
	if [ -n "$got" ] && [ -n "$want" ] && [ $((got * 2)) -le $((want * 3)) ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: shrunk $fix run has ${got:-?} events, the hand minimal one ${want:-?} (want <= 1.5x)"
	fi
	expect_output "^FAIL .* $inv 8/8" "the hand minimal $fix file fails under $v" \
		"$bin" run -q -v "$v" "tests/data/shrink/$fix.yaml"
	expect_output "0 violated" "the hand minimal $fix file holds under hardened" \
		"$bin" run -q -v hardened "tests/data/shrink/$fix.yaml"
}
shrink_case webhook scenarios/webhook-concurrent-copies.yaml legacy exactly-once 1
shrink_case ratelimit scenarios/ratelimit-expire-fails-once.yaml legacy no-lockout 1
shrink_case dedup scenarios/dedup-redis-blackhole.yaml legacy no-false-duplicate 1
shrink_case customer scenarios/customer-insert-fails.yaml legacy no-orphan 1
shrink_case quote-email scenarios/quote-email-customer-data.yaml legacy no-unhandled-error 1

# Faults that fired are pinned as a schedule, and the story tells the run.
expect_output "^  - \{target: redis, kind: error, op: \"expire\", nth: 1\}$" \
	"the shrunk lockout pins the failed EXPIRE as a schedule entry" cat "$sh_dir/ratelimit.min.yaml"
expect_output "^# Shrunk by faultline shrink from scenarios/ratelimit-expire-fails-once\.yaml, seed 1, variant legacy\.$" \
	"the shrunk file says where it came from" cat "$sh_dir/ratelimit.min.yaml"
expect_output "FAULT: redis expire meets error" "the story names the fault" \
	"$bin" shrink scenarios/ratelimit-expire-fails-once.yaml --seed 1 -o "$sh_dir/story.yaml"
expect_output "VIOLATED exactly-once: order ord_0 marked paid 2 times" "the story ends in the violation" \
	"$bin" shrink scenarios/webhook-concurrent-copies.yaml --seed 1 -o "$sh_dir/story.yaml"
expect_output "^schedule:$|^faults:" "without -o the shrunk file goes to standard output" \
	"$bin" shrink scenarios/ratelimit-expire-fails-once.yaml --seed 1 -q

# A schedule entry fires on exactly the nth operation of its name.
# The legacy limiter issues EXPIRE when a count is 1: once for the first hit
# and again for the probe after the window (a new window), so EXPIRE #2 is
# the probe's, at 60 s or later, whichever seed.
printf 'fixes: [ratelimit]\nseeds: 4\nworkload:\n  ratelimit: {users: 1, requests_per_user: 3, spread: 0s, limit: 5, window: 60s}\nschedule:\n  - {target: redis, op: expire, nth: 2, kind: error}\n' >"$sh_dir/nth2.yaml"
for sh_seed in 1 2 3; do
	sh_t=$("$bin" replay "$sh_dir/nth2.yaml" --seed "$sh_seed" -v legacy 2>/dev/null |
	       sed -nE 's/^\{"t":([0-9]+),"ev":"fault","target":"redis","op":"expire".*/\1/p')
	if [ "$(wc -w <<<"$sh_t")" -eq 1 ] && [ "$sh_t" -ge 60000000 ]; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: schedule EXPIRE #2 fired at '${sh_t}' us under seed $sh_seed, want once, at the probe"; fi
done
printf 'fixes: [ratelimit]\nseeds: 4\nworkload:\n  ratelimit: {users: 1, requests_per_user: 1, spread: 0s}\nschedule:\n  - {target: redis, op: expire, nth: 1, kind: error}\n' >"$sh_dir/nth1.yaml"
expect_output "no-lockout 4/4" "EXPIRE #1 fails under every seed" "$bin" run -q -v legacy "$sh_dir/nth1.yaml"

# Errors.
expect_status 1 "shrink of a seed that violates nothing" \
	"$bin" shrink scenarios/webhook-concurrent-copies.yaml --seed 1 -v hardened -o "$sh_dir/x.yaml"
expect_output "violates nothing: nothing to shrink" "shrink says why it did nothing" \
	"$bin" shrink scenarios/webhook-concurrent-copies.yaml --seed 1 -v hardened -o "$sh_dir/x.yaml"
expect_status 2 "shrink without --seed" "$bin" shrink scenarios/webhook-concurrent-copies.yaml
expect_output "^faultline shrink: unknown option '--frob' \(try 'faultline shrink --help'\)$" \
	"shrink: an unknown option is one line" "$bin" shrink --frob scenarios/webhook-concurrent-copies.yaml
expect_status 2 "shrink with a bad budget" \
	"$bin" shrink scenarios/webhook-concurrent-copies.yaml --seed 1 --shrink-budget soon
printf 'fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expire, kind: error, window: [0s, 1s], nth: 1}\n' >"$sh_dir/bad1.yaml"
expect_output "bad1\.yaml:3:46: schedule\[0\]\.window: does not belong in a schedule entry" \
	"a schedule entry with a window is refused at its place" "$bin" check "$sh_dir/bad1.yaml"
printf 'fixes: [ratelimit]\nschedule:\n  - {target: redis, op: "*", nth: 1, kind: error}\n' >"$sh_dir/bad2.yaml"
expect_output "bad2\.yaml:3:[0-9]+: schedule\[0\]\.op: a schedule entry names one operation" \
	"a schedule entry for any operation is refused" "$bin" check "$sh_dir/bad2.yaml"
printf 'fixes: [ratelimit]\nschedule:\n  - {target: redis, op: expire, kind: error}\n' >"$sh_dir/bad3.yaml"
expect_status 2 "a schedule entry without nth" "$bin" check "$sh_dir/bad3.yaml"
# run --report DIR --shrink: a shrunk file beside the trace, named in report.json.
expect_status 1 "run --shrink over two legacy bugs" "$bin" run -q -v legacy --report "$sh_dir/r" \
	--shrink scenarios/webhook-concurrent-copies.yaml scenarios/ratelimit-expire-fails-once.yaml
expect_status 0 "run --shrink's report names each shrunk file, and each fails again" python3 -c '
import json, os, subprocess, sys
d, binary = sys.argv[1], sys.argv[2]
j = json.load(open(d + "/report.json"))
seen = []
for r in j["results"]:
    for name, inv in r["invariants"].items():
        if inv["held"]:
            assert "shrunk_file" not in inv, name
            continue
        f = inv["shrunk_file"]
        assert f == "traces/%s-%s.min.yaml" % (r["scenario"], name), f
        out = subprocess.run([binary, "run", "-q", "-v", r["variant"], os.path.join(d, f)],
                             capture_output=True, text=True).stdout
        assert name in out, (f, out)
        seen.append(f)
assert len(seen) == 3, seen' "$sh_dir/r" "$bin"
expect_status 0 "run --shrink's report.json is valid against its schema" \
	python3 tests/json_schema_check.py docs/report.schema.json "$sh_dir/r/report.json"
expect_output "^Shrunk: traces/ratelimit-expire-fails-once-no-lockout\.min\.yaml" \
	"report.md names the shrunk file" cat "$sh_dir/r/report.md"
expect_status 0 "matrix --shrink" "$bin" matrix -q --report "$sh_dir/m" --shrink \
	scenarios/webhook-concurrent-copies.yaml
expect_status 0 "matrix --shrink names its files by variant" \
	test -s "$sh_dir/m/traces/webhook-concurrent-copies-legacy-exactly-once.min.yaml"
expect_status 2 "--shrink without --report" "$bin" run --shrink scenarios/webhook-concurrent-copies.yaml
rm -rf "$sh_dir"
