#!/usr/bin/env bash
# Measures both deployment modes on loopback (ports apart from make run's):
# starts the all-in-one bin/mp and runs mpbench against it and its
# in-process raw-libzmq baseline, stops it, does the same with the four split
# services, repeats the whole REPS times, and prints one table: each figure's
# median per mode beside raw, with the ratios and which targets hold.
# Usage: scripts/bench.sh [-reps N] [mpbench flags...]
#   -reps N (or REPS=N)  runs of each mode (default 3); each run measures
#                        every figure once, raw and Message Plane side by side
#   -scenarios LIST      only these, in one mpbench run per mode
#   -scale, -only ...    passed to mpbench
#   BENCH_PORT_BASE=N    moves every port (default 49900: ports N+13..N+63)
set -euo pipefail
cd "$(dirname "$0")/.."

# The modes, one line each: the label mpbench reports it under, and the
# function that starts it. A label KIND/NAME is held to KIND's targets, so
# another store backend is one more line, e.g.
#   "mp/jetstream MP_STORE_BACKEND=jetstream start_mp"
modes=(
	"mp start_mp"
	"split start_split"
)

reps=${REPS:-3}
flags=()
while (($#)); do
	case $1 in
	-reps | --reps) reps=$2; shift 2 ;;
	-reps=* | --reps=*) reps=${1#*=}; shift ;;
	*) flags+=("$1"); shift ;;
	esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: -reps wants a positive count, not '$reps'" >&2; exit 2; }

export MP_LOG_LEVEL=warn MP_INGEST_STATS_INTERVAL=0
out=$(mktemp -d) # per-run tables, their JSON, service logs
pids=()
stop_all() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap stop_all EXIT

# spawn NAME CMD... runs a service in the background, logging to $out.
spawn() {
	local name=$1
	shift
	"$@" >>"$out/$name.log" 2>&1 &
	pids+=($!)
}

# ready PORT... waits for each admin listener's /readyz while every process
# started is still running.
ready() {
	for port in "$@"; do
		for ((i = 0; ; i++)); do
			curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
			alive || return 1
			if ((i == 150)); then
				echo "bench.sh: nothing ready on 127.0.0.1:$port" >&2
				return 1
			fi
			sleep 0.1
		done
	done
	alive
}
alive() {
	for p in "${pids[@]}"; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "bench.sh: a service exited: $(grep -h 'level=ERROR' "$out"/*.log | tail -n 1)" >&2
			return 1
		fi
	done
}

# up START starts a mode, trying three times: the ports lie in Linux's
# ephemeral range, so one may be held for a while as the local end of some
# other connection, and the service then fails to bind it.
up() {
	for try in 1 2 3; do
		eval "$1" && return 0
		stop_all
		echo "bench.sh: start failed (try $try of 3)" >&2
		sleep 2
	done
	echo "bench.sh: could not start it; logs in $out" >&2
	exit 1
}

# free PORT... fails when something listens there already: mpbench would
# measure that instead (another bench, make run). BENCH_PORT_BASE moves
# every port of this script.
free() {
	for port in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "bench.sh: 127.0.0.1:$port is in use by another process; stop it or set BENCH_PORT_BASE" >&2
			exit 1
		fi
	done
}

# Each mode sets the endpoints mpbench measures and store_http, the admin
# address of the process holding the store (for its RSS).
base=${BENCH_PORT_BASE:-49900}
start_mp() {
	local rpc=$((base + 13)) pub=$((base + 14)) ingest=$((base + 15)) admin=$((base + 30))
	free $rpc $pub $ingest $admin
	export MP_RPC_ENDPOINT=tcp://127.0.0.1:$rpc MP_PUB_ENDPOINT=tcp://127.0.0.1:$pub MP_INGEST_ENDPOINT=tcp://127.0.0.1:$ingest
	store_http=127.0.0.1:$admin
	MP_STORE_LISTEN= MP_HTTP_ADDR=$store_http spawn mp bin/mp
	ready $admin
}
start_split() {
	local rpc=$((base + 43)) pub=$((base + 44)) ingest=$((base + 45)) grpc=127.0.0.1:$((base + 50)) admin=$((base + 60))
	free $rpc $pub $ingest $((base + 50)) $admin $((admin + 1)) $((admin + 2)) $((admin + 3))
	export MP_RPC_ENDPOINT=tcp://127.0.0.1:$rpc MP_PUB_ENDPOINT=tcp://127.0.0.1:$pub MP_INGEST_ENDPOINT=tcp://127.0.0.1:$ingest
	store_http=127.0.0.1:$admin
	MP_STORE_LISTEN=$grpc MP_HTTP_ADDR=$store_http spawn store bin/mp-store
	ready $admin || return 1 # edges reconnect by themselves; this keeps their logs quiet
	MP_STORE_ADDR=$grpc MP_HTTP_ADDR=127.0.0.1:$((admin + 1)) spawn rpc bin/mp-rpc
	MP_STORE_ADDR=$grpc MP_HTTP_ADDR=127.0.0.1:$((admin + 2)) spawn pub bin/mp-pub
	MP_STORE_ADDR=$grpc MP_HTTP_ADDR=127.0.0.1:$((admin + 3)) spawn ingest bin/mp-ingest
	ready $((admin + 1)) $((admin + 2)) $((admin + 3))
}

# bench FILE LABEL [flags...] runs mpbench once: its table to FILE.txt,
# its figures to FILE.json.
files=()
bench() {
	local file=$1 label=$2
	shift 2
	bin/mpbench -mode "$label" -rpc "$MP_RPC_ENDPOINT" -pub "$MP_PUB_ENDPOINT" -ingest "$MP_INGEST_ENDPOINT" \
		-store-http "$store_http" -reps 1 -json "$file.json" "$@" >"$file.txt"
	files+=("$file.json")
}

custom=false
[[ " ${flags[*]-} " == *" -scenarios"* || " ${flags[*]-} " == *" --scenarios"* ]] && custom=true
for ((rep = 1; rep <= reps; rep++)); do
	for m in "${modes[@]}"; do
		read -r label start <<<"$m"
		file=$out/$rep-${label//\//-}
		t0=$SECONDS
		up "$start"
		if $custom; then
			bench "$file" "$label" "${flags[@]}"
		else
			bench "$file" "$label" -scenarios rpc-publish,rpc-under-ingest,ingest,pub-fanout,reads "${flags[@]}"
			# The memory figure is the store's RSS holding the 1,000,000
			# events alone: start afresh and measure.
			stop_all
			up "$start"
			bench "$file-memory" "$label" -scenarios memory -no-raw "${flags[@]}"
		fi
		stop_all
		echo "run $rep/$reps $label: $((SECONDS - t0))s" >&2
	done
done
echo
bin/mpbench report "${files[@]}"
echo "(per-run tables, their JSON and the service logs in $out)"
