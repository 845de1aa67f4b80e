#!/usr/bin/env bash
# Runs Message Plane on loopback with the seed's ports until Ctrl-C.
#   scripts/run.sh        the all-in-one bin/mp (store and edges in one process)
#   scripts/run.sh split  the four services as separate processes
set -uo pipefail
cd "$(dirname "$0")/.."
banner="Message Plane running: RPC tcp://127.0.0.1:48913  PUB tcp://127.0.0.1:48914  INGEST tcp://127.0.0.1:48915  admin http://127.0.0.1:48930 (Ctrl-C stops)"
if [ "${1:-}" != split ]; then
	echo "$banner" >&2
	exec bin/mp
fi
pids=()
stop() {
	trap - INT TERM
	echo "stopping..." >&2
	for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null; done
	wait
	exit 0
}
trap stop INT TERM
start() {
	[ -x "bin/$1" ] || return 0
	"bin/$1" &
	pids+=($!)
}
start mp-store
# Edges reconnect by themselves, but starting them after the store keeps the
# first log lines quiet.
for _ in $(seq 50); do curl -fs http://127.0.0.1:48930/readyz >/dev/null 2>&1 && break; sleep 0.1; done
start mp-rpc
start mp-ingest
start mp-pub
echo "$banner" >&2
wait -n
echo "a service exited; stopping the rest" >&2
stop
