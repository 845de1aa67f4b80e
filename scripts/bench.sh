#!/usr/bin/env bash
# Starts the four services on loopback (ports apart from make run's) and runs
# mpbench against them and its in-process raw-libzmq baseline.
# Usage: scripts/bench.sh [mpbench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
export MP_STORE_LISTEN=127.0.0.1:49920 MP_STORE_ADDR=127.0.0.1:49920
export MP_RPC_ENDPOINT=tcp://127.0.0.1:49913 MP_PUB_ENDPOINT=tcp://127.0.0.1:49914 MP_INGEST_ENDPOINT=tcp://127.0.0.1:49915
export MP_LOG_LEVEL=warn MP_INGEST_STATS_INTERVAL=0
logs=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
start() { MP_HTTP_ADDR=$2 "bin/mp-$1" >"$logs/$1.log" 2>&1 & pids+=($!); }
start store 127.0.0.1:49930
for _ in $(seq 100); do curl -fs http://127.0.0.1:49930/readyz >/dev/null 2>&1 && break; sleep 0.1; done
start rpc 127.0.0.1:49931
start pub 127.0.0.1:49932
start ingest 127.0.0.1:49933
for port in 49931 49932 49933; do
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done
run() { bin/mpbench -rpc "$MP_RPC_ENDPOINT" -pub "$MP_PUB_ENDPOINT" -ingest "$MP_INGEST_ENDPOINT" -store-http 127.0.0.1:49930 "$@"; }
if [[ " $* " == *" -scenarios "* ]]; then
	run "$@"
else
	run -scenarios rpc-publish,ingest,pub-fanout,reads "$@"
	# The memory figure is the store's RSS holding the 1,000,000 events alone:
	# restart the store (the edges reconnect by themselves) and measure.
	kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
	pids=("${pids[@]:1}")
	start store 127.0.0.1:49930
	for _ in $(seq 100); do curl -fs http://127.0.0.1:49930/readyz >/dev/null 2>&1 && break; sleep 0.1; done
	for port in 49931 49932 49933; do
		for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
	done
	run -scenarios memory -no-raw "$@"
fi
echo "(service logs in $logs)"
