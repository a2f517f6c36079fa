#!/usr/bin/env bash
# What a complete clone costs atipay-server, in instructions (user and kernel), counted by
# `perf stat` over two runs that differ only in the number of clones: the difference divided
# by the difference in clones leaves out start-up, identities and source carts. Instruction
# counts hardly move with the neighbours' load, so two builds can be compared on a shared
# machine where clones/s swing by a factor of two (cycles are printed too, but they do move).
#
# Usage: tools/bench/clone-cost.sh [BUILD_DIR]        (default: build)
# Environment: SMALL (500), LARGE (3500) clones; CONNECTIONS (32); extra server flags in
#              SERVER_FLAGS (e.g. "--db-synchronous NORMAL").
# Needs perf (Debian: linux-perf) with access to hardware counters.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
small=${SMALL:-500}
large=${LARGE:-3500}
connections=${CONNECTIONS:-32}
[[ "$small" =~ ^[0-9]+$ && "$large" =~ ^[0-9]+$ && "$small" -gt 0 && "$large" -gt "$small" ]] ||
  { echo "SMALL and LARGE are clone counts, 0 < SMALL < LARGE (got $small, $large)" >&2; exit 1; }
server=$build/bin/atipay-server
load=$build/bin/atipay-load
for bin in "$server" "$load"; do
  [ -x "$bin" ] || { echo "missing $bin (tools/build.sh atipay-server atipay-load)" >&2; exit 1; }
done
command -v perf > /dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
# A VM without the CPU's performance counters passed through gives "<not supported>".
probe=$(perf stat -x, -e instructions:u,instructions:k true 2>&1 > /dev/null || true)
if [ "$(grep -cE '^[0-9]+,[^,]*,instructions:[uk]' <<< "$probe")" != 2 ]; then
  echo "perf cannot count instructions here (no hardware counters, or perf_event_paranoid):" >&2
  echo "$probe" >&2
  exit 1
fi
cores=$(nproc)
load_cpu=$(( cores > 1 ? 1 : 0 ))
work=$(mktemp -d /tmp/atipay-clone-cost.XXXXXX)
server_pid=
# server_pid is perf's; the server is its child (taskset execs it), and perf stops with it.
stop_server() {
  if [ -n "$server_pid" ]; then
    pkill -INT -P "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
    server_pid=
  fi
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

# One server lifetime under perf stat: writes "instructions:u instructions:k cycles:u cycles:k"
# to $work/run-CLONES/counts. Runs in this shell (not in $(...) or <(...)), so that on a failure
# the EXIT trap knows the server to stop.
run() {
  local clones=$1 dir="$work/run-$1"
  mkdir -p "$dir/dids"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local did="did:web:127.0.0.1%3A$port"
  # shellcheck disable=SC2086
  perf stat -x, -e instructions:u,instructions:k,cycles:u,cycles:k -o "$dir/stat" \
    taskset -c 0 "$server" --listen "127.0.0.1:$port" --service-did "$did" --db "$dir/atipay.db" \
    --dev-did-dir "$dir/dids" --threads 1 --cart-ttl 3 --access-log off \
    --rate-limit-caller off ${SERVER_FLAGS:-} \
    > "$dir/server.log" 2>&1 &
  server_pid=$!
  local up=
  for _ in $(seq 100); do
    curl -fs "127.0.0.1:$port/xrpc/_health" > /dev/null 2>&1 && { up=1; break; }
    kill -0 "$server_pid" 2> /dev/null || break
    sleep 0.1
  done
  [ -n "$up" ] || { echo "atipay-server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }
  taskset -c $load_cpu "$load" --url "http://127.0.0.1:$port" --aud "$did" --did-dir "$dir/dids" \
    --identities "$connections" --connections "$connections" --clones "$clones" \
    --wait-cloneable 30s --quiet > "$dir/load.txt" 2>&1 || { cat "$dir/load.txt" >&2; exit 1; }
  stop_server  # perf prints when the server exits
  awk -F, '/instructions:u/{iu=$1} /instructions:k/{ik=$1} /cycles:u/{cu=$1} /cycles:k/{ck=$1}
           END{print iu, ik, cu, ck}' "$dir/stat" > "$dir/counts"
}

run "$small"
run "$large"
read -r iu1 ik1 cu1 ck1 < "$work/run-$small/counts"
read -r iu2 ik2 cu2 ck2 < "$work/run-$large/counts"
n=$(( large - small ))
echo "atipay-server, per complete clone ($large - $small clones, $connections connections, --threads 1 on core 0):"
awk -v n=$n -v iu=$((iu2 - iu1)) -v ik=$((ik2 - ik1)) -v cu=$((cu2 - cu1)) -v ck=$((ck2 - ck1)) 'BEGIN {
  printf "  instructions  user %8.0f  kernel %8.0f  total %8.0f\n", iu/n, ik/n, (iu+ik)/n
  printf "  cycles        user %8.0f  kernel %8.0f  total %8.0f   (vary with the machine'\''s load)\n", cu/n, ck/n, (cu+ck)/n
}'
