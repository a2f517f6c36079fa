#!/usr/bin/env bash
# Load benchmark of the XRPC server with wrk, as in the README:
#   - throughput: a query with a small JSON answer, server pinned to core 0 with --threads 1,
#     wrk pinned to core 1 (target: >= 40,000 requests/s);
#   - latency: p99 at 64 connections (target: < 2 ms);
#   - memory: resident set size with 1,000 idle keep-alive connections (target: < 64 MB).
#
# Usage: tools/bench/xrpc-load.sh [BUILD_DIR]      (default: build)
# Environment: DURATION (10s), CONNECTIONS (64), ACCESS_LOG (off | a file path),
#              IDLE_CONNECTIONS (1000), NICE (e.g. -20 as root: on a machine shared with builds,
#              gives the server and wrk priority so the figures approach those of idle cores).
# Servers measured: xrpc-test-server (the server core with the fake generated methods:
# com.atiproto.repo.item.count goes through params decoding, handler and output validation;
# com.atiproto.payment.cart.clone through JSON input validation and an answer from another
# thread) and atipay-server (/xrpc/_health).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
access_log=${ACCESS_LOG:-off}
idle_connections=${IDLE_CONNECTIONS:-1000}
test_server=$build/tests/xrpc/xrpc-test-server
atipay_server=$build/bin/atipay-server
for bin in "$test_server" "$atipay_server"; do
  [ -x "$bin" ] || { echo "missing $bin (build targets xrpc-test-server and atipay-server)" >&2; exit 1; }
done
command -v wrk > /dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
ulimit -n 8192 2> /dev/null || true
cores=$(nproc)
pin_server=""
pin_load=""
if [ "$cores" -ge 2 ]; then
  pin_server="taskset -c 0"
  pin_load="taskset -c 1"
fi
if [ -n "${NICE:-}" ]; then
  pin_server="nice -n $NICE $pin_server"
  pin_load="nice -n $NICE $pin_load"
fi

pid=
log=$(mktemp)
# atipay-server's database: its own, never an atipay.db in the caller's directory.
db_dir=$(mktemp -d)
stop_server() {
  if [ -n "$pid" ]; then
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    pid=
  fi
}
trap 'stop_server; rm -f "$log" "$log.lua"; rm -rf "$db_dir"' EXIT

# start_server BIN EXTRA_FLAGS...: starts on a free port, sets $port and $pid.
start_server() {
  local bin=$1
  shift
  : > "$log"
  $pin_server "$bin" --listen 127.0.0.1:0 --threads 1 --access-log "$access_log" \
    --idle-timeout-ms 120000 "$@" 2> "$log" > /dev/null &
  pid=$!
  port=
  for _ in $(seq 1 200); do
    port=$(sed -n -e 's/^PORT \([0-9]*\)$/\1/p' -e 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$log" | head -n1)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "server did not start" >&2
  cat "$log" >&2
  exit 1
}

# run_wrk NAME URL [LUA]: prints requests/s and latency percentiles.
run_wrk() {
  local name=$1 url=$2 script=${3:-}
  local args=(-t1 -c"$connections" -d"$duration" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  local out cpu_before cpu_after
  cpu_before=$(cpu_ticks "$pid")
  out=$($pin_load wrk "${args[@]}" "$url")
  cpu_after=$(cpu_ticks "$pid")
  local rps p50 p99 errors requests us_per_request
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<< "$out")
  requests=$(awk '/requests in/ {print $1}' <<< "$out")
  # Server CPU time per request: robust when other processes compete for the core.
  us_per_request=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "?" }')
  p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
  p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
  errors=$(grep -E 'Non-2xx|Socket errors' <<< "$out" || true)
  printf '%-40s %10s req/s  p50 %-8s p99 %-8s server CPU %6s us/req (%s req/s per core)  %s\n' \
    "$name" "$rps" "$p50" "$p99" "$us_per_request" \
    "$(awk -v u="$us_per_request" 'BEGIN { if (u > 0) printf "%.0f", 1e6 / u; else print "?" }')" \
    "${errors//$'\n'/ }"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "# xrpc-load: $(date -u +%FT%TZ), $cores cores, server: ${pin_server:-not pinned}, wrk -t1 -c$connections -d$duration, access log: $access_log, load average: $(cut -d' ' -f1-3 /proc/loadavg)"

start_server "$test_server"
base=http://127.0.0.1:$port
wrk -t1 -c"$connections" -d1s "$base/xrpc/com.atiproto.repo.item.count" > /dev/null  # warm-up
run_wrk "GET  com.atiproto.repo.item.count" "$base/xrpc/com.atiproto.repo.item.count"
cat > "$log.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"uri":"at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/com.atiproto.cart/cart0000"}'
LUA
run_wrk "POST com.atiproto.payment.cart.clone" "$base/xrpc/com.atiproto.payment.cart.clone" "$log.lua"
cat > "$log.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"uri":"not-an-at-uri"}'
LUA
run_wrk "POST clone, 400 validation error" "$base/xrpc/com.atiproto.payment.cart.clone" "$log.lua"
echo "  server RSS after load: $(( $(rss_kb "$pid") / 1024 )) MB"

# Idle keep-alive connections: open them, make one request on each, hold them, read RSS.
before=$(rss_kb "$pid")
python3 - "$port" "$idle_connections" "$pid" <<'PY'
import socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /xrpc/com.atiproto.repo.item.count HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
ok = 0
for s in socks:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    ok += data.startswith(b"HTTP/1.1 200")
time.sleep(0.5)
rss = int([l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0])
print(f"  {n} idle keep-alive connections ({ok} answered 200): server RSS {rss / 1024:.1f} MB")
for s in socks:
    s.close()
PY
echo "  (RSS before opening them: $(( before / 1024 )) MB)"
stop_server

start_server "$atipay_server" --db "$db_dir/atipay.db"
base=http://127.0.0.1:$port
wrk -t1 -c"$connections" -d1s "$base/xrpc/_health" > /dev/null
run_wrk "GET  /xrpc/_health (atipay-server)" "$base/xrpc/_health"
stop_server
