#!/usr/bin/env bash
# The executables under SIGTERM: atipay-server exits 0; xrpc-test-server (same wiring) lets a
# request in flight finish before it exits 0.
# Usage: signal_test.sh <atipay-server> <xrpc-test-server>
set -euo pipefail
atipay_server=$1
test_server=$2
log=$(mktemp)
trap 'rm -f "$log" "$log.reply"' EXIT

wait_port() {  # wait_port PATTERN
  for _ in $(seq 1 200); do
    port=$(sed -n "$1" "$log" | head -n1)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "server did not start" >&2
  cat "$log" >&2
  exit 1
}

"$atipay_server" --listen 127.0.0.1:0 --access-log off 2> "$log" &
pid=$!
wait_port 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p'
curl -sf "http://127.0.0.1:$port/xrpc/_health" | grep -q version
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { echo "atipay-server exited $rc after SIGTERM" >&2; cat "$log" >&2; exit 1; }
grep -q '"msg":"stopped"' "$log" || { echo "no stop log line" >&2; exit 1; }

: > "$log"
"$test_server" --listen 127.0.0.1:0 --access-log off 2> "$log" &
pid=$!
wait_port 's/^PORT \([0-9]*\)$/\1/p'
curl -s -o "$log.reply" -w '%{http_code}' \
  "http://127.0.0.1:$port/xrpc/com.example.xrpc.params?name=sleep&n=700" > "$log.code" &
curl_pid=$!
# SIGTERM once the request is being handled (in flight beside the /metrics request asking),
# however long the machine takes to get it there.
in_flight=
for _ in $(seq 1 400); do
  if curl -s "http://127.0.0.1:$port/metrics" | grep -qx 'atipay_xrpc_requests_in_flight 2'; then
    in_flight=yes
    break
  fi
  sleep 0.025
done
[ -n "$in_flight" ] || { echo "the request never got in flight" >&2; exit 1; }
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
wait "$curl_pid"
code=$(cat "$log.code")
rm -f "$log.code"
[ "$rc" -eq 0 ] || { echo "xrpc-test-server exited $rc" >&2; exit 1; }
[ "$code" = "200" ] || { echo "in-flight request got $code" >&2; exit 1; }
grep -q '"name":"sleep"' "$log.reply" || { echo "unexpected reply" >&2; cat "$log.reply" >&2; exit 1; }
echo "signal test passed"
