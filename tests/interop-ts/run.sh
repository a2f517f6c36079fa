#!/usr/bin/env bash
# CTest entry: installs the pinned client if needed, starts the server on a free loopback port,
# runs client.mjs against it. Usage: run.sh <server binary> <lexicons dir>
set -euo pipefail
server=$1
lexicons=$2
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
. ./npm-ci-if-needed.sh
log=$(mktemp)
"$server" --listen 127.0.0.1:0 --access-log off 2> "$log" &
pid=$!
cleanup() {
  kill "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$log" | head -n1)
  [ -n "$port" ] && break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "server did not start:" >&2
  cat "$log" >&2
  exit 1
fi
node client.mjs "http://127.0.0.1:$port" "$lexicons"
