#!/usr/bin/env bash
# Starts every built Message Plane service on loopback with the seed's ports
# (store first, then the edges) and stops them all on Ctrl-C.
set -uo pipefail
cd "$(dirname "$0")/.."
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
echo "Message Plane running: RPC tcp://127.0.0.1:48913  PUB tcp://127.0.0.1:48914  INGEST tcp://127.0.0.1:48915 (Ctrl-C stops)" >&2
wait -n
echo "a service exited; stopping the rest" >&2
stop
