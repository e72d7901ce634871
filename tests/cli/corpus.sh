# tests/cli/corpus.sh - run --corpus DIR keeps each violation's seed and
# replays the corpus first on later runs; a hardened matrix is not failed by
# legacy entries that fail again. Sourced by tests/cli_test.sh.
co_dir=$(mktemp -d /tmp/faultline-corpus.XXXXXX)
co_sc=scenarios/webhook-concurrent-copies.yaml
expect_status 1 "run --corpus with a legacy violation" "$bin" run -q -v legacy --corpus "$co_dir/c" "$co_sc"
co_n=$(find "$co_dir/c" -name 'webhook-concurrent-copies-legacy-*.yaml' 2>/dev/null | wc -l)
if [ "$co_n" -ge 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: --corpus kept no entry"; fi
expect_output '^corpus: replaying the entries of .* first$' "a later run replays the corpus first" \
	"$bin" run -q --corpus "$co_dir/c" "$co_sc"
expect_status 1 "run fails while a corpus entry still violates" "$bin" run -q --corpus "$co_dir/c" "$co_sc"
expect_status 0 "matrix: legacy corpus entries failing again are expected" \
	"$bin" matrix -q --corpus "$co_dir/c" scenarios/
expect_status 0 "a corpus entry is a plain scenario file" "$bin" check "$co_dir/c"
printf 'fixes: [webhook]\n' >"$co_dir/c/stray.yaml"
expect_status 2 "a stray file in the corpus is a usage error" "$bin" run -q --corpus "$co_dir/c" "$co_sc"
expect_output "stray\.yaml: not a corpus entry" "the stray file is named" \
	"$bin" run -q --corpus "$co_dir/c" "$co_sc"
rm -rf "$co_dir"
