# tests/cli/proxy.sh - `faultline proxy` as a user meets it: usage errors,
# then end to end against a real redis-server and PostgreSQL (started by
# scripts/servers.sh): redis-cli and psql through the proxy, toxics added
# through the HTTP control API with curl and from a --config file.
# Sourced by tests/cli_test.sh: uses $bin, expect_status and expect_output.

expect_status 0 "proxy --help" "$bin" proxy --help
expect_output "127\.0\.0\.1" "proxy --help says it binds loopback" "$bin" proxy --help
expect_status 2 "proxy with nothing to do" "$bin" proxy
expect_status 2 "proxy with a malformed address" "$bin" proxy --upstream nope
expect_status 2 "proxy with a bad seed" "$bin" proxy --upstream 127.0.0.1:1 --seed x
expect_status 2 "proxy with an unknown option" "$bin" proxy --upstream 127.0.0.1:1 --frobnicate
expect_status 2 "proxy --listen without --upstream" "$bin" proxy --listen 127.0.0.1:0 --control 127.0.0.1:0
expect_status 3 "proxy to a host that does not resolve" "$bin" proxy --upstream no-such-host.invalid:1
proxy_tmp=$(mktemp -d /tmp/faultline-proxy-cli.XXXXXX)
printf '[{' >"$proxy_tmp/broken.json"
expect_status 2 "proxy with a --config that is not JSON" "$bin" proxy --config "$proxy_tmp/broken.json"
printf '[{"name":"x","upstream":"127.0.0.1:1","toxics":[{"type":"nope"}]}]' >"$proxy_tmp/badtoxic.json"
expect_output "invalid toxic type 'nope'" "proxy --config names the bad toxic" \
	"$bin" proxy --config "$proxy_tmp/badtoxic.json"

# The live part runs once inside scripts/servers.sh and prints "ok: NAME" or
# "FAIL: NAME: why" per check; each check is then counted here.
cat >"$proxy_tmp/live.sh" <<'LIVE'
set -u
bin=$1
dir=$2
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1: $2"; fails=$((fails + 1)); }
check() { # name expected actual
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got '$3', want '$2'"; fi
}
rport=${FAULTLINE_REDIS_URL##*:}
pgport=$(printf '%s\n' "$FAULTLINE_PG_URL" | sed 's/.*port=\([0-9]*\).*/\1/')
cat >"$dir/pg.json" <<JSON
[{"name": "pg", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:$pgport",
  "toxics": [{"type": "pg_command", "attributes": {"command": "COMMIT"}}]}]
JSON
"$bin" proxy --name redis --listen 127.0.0.1:0 --upstream "127.0.0.1:$rport" \
	--control 127.0.0.1:0 --config "$dir/pg.json" --seed 3 >"$dir/out" 2>"$dir/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null' EXIT
for _ in $(seq 1 100); do
	grep -qs '^control ' "$dir/out" && break
	sleep 0.05
done
line=$(grep '^proxy redis ' "$dir/out")
case "$line" in
"proxy redis 127.0.0.1:"*" -> 127.0.0.1:$rport") ok "proxy prints its address" ;;
*) bad "proxy prints its address" "'$line' ($(cat "$dir/err"))" ;;
esac
rp=$(printf '%s\n' "$line" | sed 's/^proxy redis 127\.0\.0\.1:\([0-9]*\) .*/\1/')
pp=$(sed -n 's/^proxy pg 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$dir/out")
cp=$(sed -n 's/^control 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/out")
api="http://127.0.0.1:$cp"
rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$rp" "$@" 2>&1; }
pg() { timeout 10 psql "host=127.0.0.1 port=$pp dbname=faultline user=faultline" \
	-X -q -At -v ON_ERROR_STOP=1 "$@" 2>&1; }

check "redis-cli SET through the proxy" "OK" "$(rcli SET k v)"
check "redis-cli GET through the proxy" "v" "$(rcli GET k)"
check "redis-cli EXPIRE through the proxy" "1" "$(rcli EXPIRE k 100)"
check "psql SELECT 1 through the proxy" "1" "$(pg -c 'SELECT 1')"
check "psql COMMIT fails through a pg_command toxic" "ERROR:  injected by faultline" \
	"$(pg -c 'BEGIN' -c 'COMMIT')"

code=$(timeout 10 curl -s -o "$dir/toxic.json" -w '%{http_code}' -X POST \
	-d '{"type":"redis_command","attributes":{"command":"EXPIRE","action":"error"}}' \
	"$api/proxies/redis/toxics")
check "control API creates a redis_command toxic" "200" "$code"
check "EXPIRE is answered with the injected error" "ERR injected" "$(rcli EXPIRE k 100)"
check "SET still works with the toxic" "OK" "$(rcli SET k v2)"
check "GET sees that SET" "v2" "$(rcli GET k)"
listed=$(timeout 10 curl -s "$api/proxies/redis/toxics")
case "$listed" in
*'"name":"redis_command_upstream"'*) ok "the API lists the toxic" ;;
*) bad "the API lists the toxic" "$listed" ;;
esac
code=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -X DELETE \
	"$api/proxies/redis/toxics/redis_command_upstream")
check "the API deletes the toxic" "204" "$code"
check "EXPIRE reaches redis again" "1" "$(rcli EXPIRE k 100)"

code=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"enabled":false}' \
	"$api/proxies/redis")
check "the API disables the proxy" "200" "$code"
case "$(rcli PING)" in
*"Connection refused"*) ok "a disabled proxy refuses redis-cli" ;;
*) bad "a disabled proxy refuses redis-cli" "$(rcli PING)" ;;
esac
code=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -X POST "$api/reset")
check "the API resets every proxy" "204" "$code"
check "redis-cli works after reset" "PONG" "$(rcli PING)"

kill -TERM "$pid"
for _ in $(seq 1 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
kill -KILL "$pid" 2>/dev/null
wait "$pid"
check "SIGTERM stops the proxy cleanly" "0" "$?"
trap - EXIT
exit $((fails > 0))
LIVE

proxy_log="$proxy_tmp/live.log"
timeout 180 scripts/servers.sh run --redis --pg -- bash "$proxy_tmp/live.sh" "$bin" "$proxy_tmp" \
	>"$proxy_log" 2>&1
proxy_live_rc=$?
for proxy_check in "proxy prints its address" "redis-cli SET through the proxy" \
	"redis-cli GET through the proxy" "redis-cli EXPIRE through the proxy" \
	"psql SELECT 1 through the proxy" "psql COMMIT fails through a pg_command toxic" \
	"control API creates a redis_command toxic" "EXPIRE is answered with the injected error" \
	"SET still works with the toxic" "GET sees that SET" "the API lists the toxic" \
	"the API deletes the toxic" "EXPIRE reaches redis again" "the API disables the proxy" \
	"a disabled proxy refuses redis-cli" "the API resets every proxy" \
	"redis-cli works after reset" "SIGTERM stops the proxy cleanly"; do
	expect_output "^ok: $proxy_check\$" "proxy live: $proxy_check" cat "$proxy_log"
done
if [ "$proxy_live_rc" -ne 0 ]; then
	echo "proxy live checks exited $proxy_live_rc:"
	grep -v '^ok: ' "$proxy_log" | head -20 | sed 's/^/    /'
fi
rm -rf "$proxy_tmp"
