#!/usr/bin/env bash
# atipay-load against the real atipay-server: 50 complete, verified clones (every round, real
# service auth through a dev DID directory, synchronous=FULL). One item per source cart, so
# a slow machine cannot see the cart expire (2 s TTL) between two item.create calls. Usage: clone_smoke.sh SERVER LOAD
set -euo pipefail
server=$1
load=$2
work=$(mktemp -d /tmp/atipay-clone-smoke.XXXXXX)
mkdir -p "$work/dids"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null && wait "$server_pid" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# A failure set -e stops at says where, with what the server logged.
trap 'echo "clone_smoke.sh: line $LINENO failed (exit $?)"; cat "$work/server.log" 2> /dev/null' ERR
# Port 0: the server picks the port, and its default service DID (the tokens' aud) names it.
"$server" --listen "127.0.0.1:0" --db "$work/atipay.db" \
  --dev-did-dir "$work/dids" --cart-ttl 2 --access-log off > "$work/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) as .*/\1/p' "$work/server.log")
  [ -n "$port" ] && curl -fs "127.0.0.1:$port/xrpc/_health" > /dev/null 2>&1 && break
  sleep 0.1
done
[ -n "$port" ] || { echo "no port in the server's log:"; cat "$work/server.log"; exit 1; }
did="did:web:127.0.0.1%3A$port"
[ "$(curl -fs "127.0.0.1:$port/.well-known/did.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" = "$did" ] ||
  { echo "did.json does not name $did"; exit 1; }
out=$("$load" --url "http://127.0.0.1:$port" --aud "$did" --did-dir "$work/dids" \
  --identities 4 --connections 4 --clones 50 --items-per-cart 1 --wait-cloneable 30s --verify-every 1 --json --quiet) || {
  echo "atipay-load failed: $out"; cat "$work/server.log"; exit 1; }
complete=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["clones"]["complete"])' <<< "$out")
[ "$complete" = 50 ] || { echo "expected 50 complete clones, got $complete: $out"; exit 1; }
echo "50 clones complete and verified"
# The store's group commit shows on /metrics: both calls of every clone ran a write job, and no
# batch failed. (At 4 connections batches may hold one job each, so only jobs >= commits is asked.)
metrics=$(curl -fs "127.0.0.1:$port/metrics")
sample() { awk -v name="$1" '$1 == name { print $2 }' <<< "$metrics"; }
commits=$(sample atipay_store_commits_total)
jobs=$(sample atipay_store_jobs_total)
failed=$(sample atipay_store_failed_batches_total)
calls=$(( 2 * complete ))
{ [ -n "$commits" ] && [ -n "$jobs" ] && [ -n "$failed" ]; } ||
  { echo "/metrics lacks the store's samples:"; echo "$metrics"; exit 1; }
[ "$failed" = 0 ] || { echo "$failed store batches failed"; exit 1; }
[ "$jobs" -ge "$calls" ] && [ "$commits" -ge 1 ] && [ "$commits" -le "$jobs" ] ||
  { echo "store: $commits commits, $jobs jobs for $calls clone calls"; exit 1; }
grep -q '^atipay_store_commit_seconds_total [0-9.]*$' <<< "$metrics" ||
  { echo "/metrics lacks atipay_store_commit_seconds_total"; exit 1; }
echo "store: $jobs jobs in $commits commits"
