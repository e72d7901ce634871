# tests/cli/hostile.sh - hostile requests to the fault proxy's control API:
# each gets a 4xx answer and the server stays up and keeps serving. (Hostile
# requests to `faultline serve`, with the database checked for rows, are in
# tests/cli/serve.sh.) Sourced by tests/cli_test.sh.

host_dir=$(mktemp -d /tmp/faultline-hostile.XXXXXX)
"$bin" proxy --control 127.0.0.1:0 >"$host_dir/out" 2>"$host_dir/err" &
host_pid=$!
for _ in $(seq 1 100); do
	grep -qs '^control ' "$host_dir/out" && break
	sleep 0.05
done
host_port=$(sed -n 's/^control 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$host_dir/out")
host_api="http://127.0.0.1:$host_port"

# code METHOD PATH [curl args...] -> the HTTP status
host_code() {
	local m=$1 p=$2
	shift 2
	curl -s -o /dev/null -m 5 -w '%{http_code}' -X "$m" "$@" "$host_api$p"
}
host_expect() { # what want got
	if [ "$3" = "$2" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: control API, $1: got $3, want $2"
	fi
}

if [ -n "$host_port" ]; then
	head -c 70000 /dev/zero | tr '\0' 'a' >"$host_dir/big"
	host_expect "malformed JSON" 400 "$(host_code POST /proxies -d '{bad')"
	host_expect "JSON of the wrong shape" 400 "$(host_code POST /proxies -d '[1,2,3]')"
	host_expect "proxy without upstream" 400 "$(host_code POST /proxies -d '{"name":"y"}')"
	host_expect "unknown route" 404 "$(host_code GET /no/such/route)"
	host_expect "wrong method" 405 "$(host_code DELETE /version)"
	host_expect "body over 64 KiB" 413 "$(host_code POST /proxies --data-binary @"$host_dir/big")"
	host_expect "header over 8 KiB" 400 \
		"$(host_code GET /version -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' b)")"
	host_expect "toxic of a missing proxy" 404 "$(host_code POST /proxies/ghost/toxics -d '{"type":"latency"}')"
	host_expect "a browser (Toxiproxy refuses them too)" 403 \
		"$(host_code GET /version -H 'User-Agent: Mozilla/5.0')"
	host_expect "create a proxy" 201 \
		"$(host_code POST /proxies -d '{"name":"x","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}')"
	host_expect "unknown toxic type" 400 "$(host_code POST /proxies/x/toxics -d '{"type":"nope"}')"
	host_expect "toxicity out of range" 400 \
		"$(host_code POST /proxies/x/toxics -d '{"type":"latency","toxicity":7}')"
	host_expect "non-UTF-8 name" 400 \
		"$(printf '{"name":"\xff\xfe","upstream":"127.0.0.1:1"}' | curl -s -o /dev/null -m 5 \
			-w '%{http_code}' -X POST --data-binary @- "$host_api/proxies")"
	# A client that sends half a request and vanishes, and one that never
	# finishes its headers (slowloris), do not stop others being served.
	python3 - "$host_port" <<'PY'
import socket, sys
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port)); a.sendall(b"POST /proxies HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"na"); a.close()
b = socket.create_connection(("127.0.0.1", port)); b.sendall(b"GET /version HTTP/1.1\r\nX-Slow: ")
c = socket.create_connection(("127.0.0.1", port)); c.sendall(b"\x00\xff garbage \r\n\r\n"); c.recv(100); c.close()
PY
	host_expect "still serving after hostile clients" 200 "$(host_code GET /version)"
	if kill -0 "$host_pid" 2>/dev/null; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: control API: the proxy died"
	fi
else
	fail=$((fail + 1))
	echo "FAIL: control API did not start: $(cat "$host_dir/err")"
fi
kill "$host_pid" 2>/dev/null
wait "$host_pid" 2>/dev/null
rm -rf "$host_dir"
