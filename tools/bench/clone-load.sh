#!/usr/bin/env bash
# Clone benchmark against the real atipay-server: complete clones per second (every round, with
# service-auth verification of every call and synchronous=FULL commits) and latency per call.
#   - atipay-server pinned to core 0 with --threads 1 (one core), a fresh database;
#   - atipay-load pinned to core 1: fresh identities (DID documents in a dev directory the server
#     trusts), one source cart each, tokens pre-signed before the window.
#
# Usage: tools/bench/clone-load.sh [BUILD_DIR]       (default: build)
# Environment: DURATION (10s), CONNECTIONS (32), IDENTITIES (32), SYNCHRONOUS (FULL | NORMAL),
#              VALIDATE_OUTPUT (on | off), PLC_URL (register identities on a PLC directory
#              instead; the server then resolves them there), SERVER_FLAGS (extra server flags,
#              e.g. "--blocking-threads 2").
set -euo pipefail
# shellcheck disable=SC2086  # SERVER_FLAGS is split on purpose
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
identities=${IDENTITIES:-32}
synchronous=${SYNCHRONOUS:-FULL}
validate=${VALIDATE_OUTPUT:-on}
server=$build/bin/atipay-server
load=$build/bin/atipay-load
for bin in "$server" "$load"; do
  [ -x "$bin" ] || { echo "missing $bin (tools/build.sh atipay-server atipay-load)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/atipay-clone-load.XXXXXX)
mkdir -p "$work/dids"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
did="did:web:127.0.0.1%3A$port"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null && wait "$server_pid" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cores=$(nproc)
server_cpu=0
load_cpu=$(( cores > 1 ? 1 : 0 ))
validate_flag=--validate-output
[ "$validate" = off ] && validate_flag=--no-validate-output
identity_flags=(--did-dir "$work/dids")
server_identity_flags=(--dev-did-dir "$work/dids")
if [ -n "${PLC_URL:-}" ]; then
  identity_flags=(--plc-url "$PLC_URL")
  server_identity_flags=(--plc-url "$PLC_URL")
fi
taskset -c $server_cpu "$server" --listen "127.0.0.1:$port" --service-did "$did" \
  --db "$work/atipay.db" --db-synchronous "$synchronous" "$validate_flag" \
  "${server_identity_flags[@]}" --threads 1 --cart-ttl 5 --access-log off \
  --rate-limit-caller off ${SERVER_FLAGS:-} \
  > "$work/server.log" 2>&1 &
server_pid=$!
up=
for _ in $(seq 100); do
  curl -fs "127.0.0.1:$port/xrpc/_health" > /dev/null 2>&1 && { up=1; break; }
  kill -0 "$server_pid" 2> /dev/null || break
  sleep 0.1
done
# Its log goes with $work at exit: show why it did not come up.
[ -n "$up" ] || { echo "atipay-server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
echo "atipay-server on core $server_cpu (synchronous=$synchronous, output validation $validate);" \
     "atipay-load on core $load_cpu, $connections connections, $identities identities, $duration"
# Source carts expire after 5 s (--cart-ttl 5); atipay-load waits for that before measuring.
# Server CPU (user + system, every thread) over the measured window, read when atipay-load says
# it starts and when it prints its figures: whether the one core was saturated or the run waited on
# fsync and round trips.
cpu_ticks() { awk '{print $14, $15}' "/proc/$server_pid/stat"; }
# "commits jobs commit_seconds" from the server's /metrics (empty from a server without them).
store_sample() {
  curl -fs "127.0.0.1:$port/metrics" | awk '$1 == "atipay_store_commits_total" { c = $2 }
    $1 == "atipay_store_jobs_total" { j = $2 } $1 == "atipay_store_commit_seconds_total" { s = $2 }
    END { if (c != "") print c, j, s }'
}
taskset -c $load_cpu "$load" --url "http://127.0.0.1:$port" --aud "$did" "${identity_flags[@]}" \
  --identities "$identities" --connections "$connections" --duration "$duration" \
  --wait-cloneable 30s 2>&1 | {
  ticks_before= ticks_after= store_before= store_after=
  while IFS= read -r line; do
    case $line in
      "atipay-load: running for"*)
        ticks_before=$(cpu_ticks); start_ns=$(date +%s%N); store_before=$(store_sample) ;;
      *"clones complete"*)
        ticks_after=$(cpu_ticks); end_ns=$(date +%s%N); store_after=$(store_sample) ;;
    esac
    printf '%s\n' "$line"
  done
  if [ -n "$ticks_before" ] && [ -n "$ticks_after" ]; then
    echo "$ticks_before $ticks_after" | awk -v hz="$(getconf CLK_TCK)" -v ns=$(( end_ns - start_ns )) \
      '{ u = ($3 - $1) / hz; k = ($4 - $2) / hz; w = ns / 1e9
         printf "  server CPU: %.2f s in the %.2f s window (%.2f of its core: %.2f user, %.2f system)\n",
                u + k, w, (u + k) / w, u / w, k / w }'
  fi
  if [ -n "$store_before" ] && [ -n "$store_after" ]; then
    echo "$store_before $store_after" | awk '{ c = $4 - $1; j = $5 - $2; s = $6 - $3
      if (c > 0) printf "  store: %d jobs in %d commits (%.1f per commit), %.2f ms per COMMIT\n",
                        j, c, j / c, s * 1000 / c }'
  fi
}
