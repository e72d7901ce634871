#!/usr/bin/env bash
# scripts/servers.sh - start throwaway redis-server and PostgreSQL servers on
# 127.0.0.1, on free ports, in a temporary directory, run a command with their
# addresses in the environment, and stop them afterwards whatever happens.
#
#   scripts/servers.sh run [--redis] [--pg] -- COMMAND [ARGS...]
#
# Exports to COMMAND:
#   FAULTLINE_REDIS_URL  redis://127.0.0.1:PORT
#   FAULTLINE_PG_URL     host=127.0.0.1 port=PORT dbname=faultline user=faultline
#   FAULTLINE_SERVERS_DIR  the temporary directory (logs are there)
# Exit status: COMMAND's, or 3 when a server could not be set up.
# Installs the servers (scripts/deps.sh live) when they are missing; installed
# as faultline-servers (make install), without deps.sh beside it, it names the
# missing packages instead.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

usage() { echo "usage: $0 run [--redis] [--pg] -- COMMAND [ARGS...]" >&2; exit 2; }
[ "${1:-}" = run ] || usage
shift
want_redis=0
want_pg=0
while [ $# -gt 0 ]; do
	case "$1" in
	--redis) want_redis=1 ;;
	--pg) want_pg=1 ;;
	--) shift; break ;;
	*) usage ;;
	esac
	shift
done
[ $# -gt 0 ] || usage
[ $want_redis -eq 1 ] || [ $want_pg -eq 1 ] || { want_redis=1; want_pg=1; }

if [ -x "$here/deps.sh" ]; then
	"$here/deps.sh" live >&2
else
	need=()
	if [ $want_redis -eq 1 ]; then
		command -v redis-server >/dev/null || need+=(redis-server)
		command -v redis-cli >/dev/null || need+=(redis-tools)
	fi
	if [ $want_pg -eq 1 ]; then
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
		command -v psql >/dev/null || need+=(postgresql-client)
	fi
	if [ ${#need[@]} -gt 0 ]; then
		echo "servers: missing: ${need[*]} (Debian: apt-get install ${need[*]})" >&2
		exit 3
	fi
fi

dir=$(mktemp -d /tmp/faultline-servers.XXXXXX)
chmod 0755 "$dir"
redis_pid=""
pg_bin=""

cleanup() {
	local rc=$?
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	if [ -n "$pg_bin" ] && [ -f "$dir/pg/postmaster.pid" ]; then
		run_as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1, chosen by the kernel.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# PostgreSQL refuses to run as root: run its tools as the postgres user then.
run_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

fail() { echo "servers: $*" >&2; exit 3; }

if [ $want_redis -eq 1 ]; then
	port=$(free_port)
	mkdir -p "$dir/redis"
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--dir "$dir/redis" --logfile "$dir/redis/redis.log" --daemonize no &
	redis_pid=$!
	for _ in $(seq 1 100); do
		redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.05
	done
	redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 ||
		fail "redis-server did not answer on 127.0.0.1:$port (log: $dir/redis/redis.log)"
	export FAULTLINE_REDIS_URL="redis://127.0.0.1:$port"
fi

if [ $want_pg -eq 1 ]; then
	pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -x "$pg_bin/initdb" ] || fail "PostgreSQL server binaries not found"
	port=$(free_port)
	mkdir -p "$dir/pg"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pg"
	run_as_pg "$pg_bin/initdb" -D "$dir/pg" -U faultline --auth=trust -E UTF8 \
		--no-instructions >"$dir/initdb.log" 2>&1 || fail "initdb failed (log: $dir/initdb.log)"
	run_as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir/pg -c fsync=off -c max_connections=100" \
		start >/dev/null || fail "PostgreSQL did not start (log: $dir/pg/server.log)"
	psql -h 127.0.0.1 -p "$port" -U faultline -d postgres -qAt \
		-c "CREATE DATABASE faultline" >/dev/null || fail "could not create the database"
	export FAULTLINE_PG_URL="host=127.0.0.1 port=$port dbname=faultline user=faultline"
fi

export FAULTLINE_SERVERS_DIR="$dir"
set +e
"$@"
rc=$?
set -e
exit $rc
