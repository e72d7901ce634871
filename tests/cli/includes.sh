# tests/cli/includes.sh - scripts/check_includes.sh keeps the map of
# docs/design.md: it passes on the tree and fails, naming file and line, on a
# planted include that runs the wrong way. Sourced by tests/cli_test.sh.
expect_status 0 "the tree's includes follow the map" scripts/check_includes.sh
inc_tmp=$(mktemp -d /tmp/faultline-inc.XXXXXX)
cp -r core sim harness live proxy reports cli "$inc_tmp/"
inc_plant() { # file include expected-line-pattern
	local f=$1 inc=$2 pat=$3
	cp "$f" "$inc_tmp/$f.orig"
	printf '#include "%s"\n' "$inc" >>"$inc_tmp/$f"
	expect_status 1 "check_includes refuses $f -> $inc" scripts/check_includes.sh "$inc_tmp"
	expect_output "$pat" "check_includes names $f and the line" scripts/check_includes.sh "$inc_tmp"
	mv "$inc_tmp/$f.orig" "$inc_tmp/$f"
}
inc_plant sim/sched.c harness/world.h "^sim/sched\.c:[0-9]+: room sim may not include \"harness/world\.h\""
inc_plant core/webhook.c sim/sched.h "^core/webhook\.c:[0-9]+: room core may not include"
inc_plant harness/world.c sim/models/redis_model.h "^harness/world\.c:[0-9]+: room harness may not include \"sim/models/redis_model\.h\""
inc_plant harness/runner.c live/world_live.h "room harness may not include \"live/world_live\.h\""
inc_plant proxy/proxy.c harness/runner.h "room proxy may not include"
inc_plant reports/report.c sim/trace.h "room reports may not include"
inc_plant live/serve.c cli/cli.h "room live may not include \"cli/cli\.h\""
expect_status 0 "check_includes passes again once the plants are gone" scripts/check_includes.sh "$inc_tmp"
rm -rf "$inc_tmp"
