#!/usr/bin/env bash
# Runs CMD against a fresh local atproto network (PLC + PDS + atipay-server, see network.mjs) and
# always tears the network down; exits with CMD's status.
#
#   run-with-network.sh [network options] [--] CMD [ARGS...]
#
# Network options are network.mjs's (--server PATH, --server-arg=ARG, --accounts a,b, ...);
# the server also comes from ATIPAY_SERVER. CMD sees ATIPAY_E2E_NETWORK (the JSON description)
# and ATIPAY_E2E_* variables (PLC_URL, PDS_URL, SERVER_URL, SERVER_DID, SERVICE_REF, DB,
# ACCESS_LOG, DIR, <ACCOUNT>_HANDLE/_DID/_PASSWORD).
#
# Checks made here, each failing the run: the network is up within ATIPAY_E2E_START_TIMEOUT
# seconds (default 60; logs printed otherwise); every listener of the network is on 127.0.0.1;
# after teardown no process of it is left and nothing listens on its ports.
# ATIPAY_E2E_KEEP=1 keeps the working directory (databases, logs) and prints where it is.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

net_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    --server | --dir | --accounts | --plc-port | --pds-port | --server-port | --service-id)
      [ $# -ge 2 ] || { echo "run-with-network: $1 needs a value" >&2; exit 2; }
      net_args+=("$1" "$2"); shift 2 ;;
    --*) net_args+=("$1"); shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: run-with-network.sh [network options] [--] CMD [ARGS...]" >&2
  exit 2
fi
if [ ! -d "$here/node_modules/@atproto/pds" ]; then
  bash "$here/install.sh" || exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/atipay-e2e-run.XXXXXX")
json=$work/network.json
keep=${ATIPAY_E2E_KEEP:-0}
[ "$keep" = 1 ] && net_args+=(--keep)
node_pid=
ports=
up=0

teardown() {
  local rc=$? status=0
  trap - EXIT INT TERM HUP
  if [ -n "$node_pid" ]; then
    if ! kill -0 "$node_pid" 2> /dev/null; then
      if [ "$up" = 1 ]; then  # it was up, and went away before teardown
        echo "run-with-network: the network stopped during the run" >&2
        status=1
      fi
    else
      kill -TERM "$node_pid" 2> /dev/null
      for _ in $(seq 1 150); do
        kill -0 "$node_pid" 2> /dev/null || break
        sleep 0.1
      done
      if kill -0 "$node_pid" 2> /dev/null; then
        echo "run-with-network: network.mjs did not stop within 15 s; killing its process group" >&2
        kill -KILL -- "-$node_pid" 2> /dev/null
        status=1
      fi
    fi
    wait "$node_pid" 2> /dev/null
    # No process of the network's group (network.mjs, atipay-server) and no listener left.
    for _ in $(seq 1 20); do
      node "$here/netcheck.mjs" gone --pgid "$node_pid" --ports "$ports" 2> /dev/null && break
      sleep 0.1
    done
    if ! node "$here/netcheck.mjs" gone --pgid "$node_pid" --ports "$ports"; then
      kill -KILL -- "-$node_pid" 2> /dev/null
      status=1
    fi
    if [ "$keep" != 1 ] && [ -e "$work/net" ]; then
      echo "run-with-network: network.mjs left its directory $work/net" >&2
      status=1
    fi
  fi
  if [ "$status" -ne 0 ]; then
    echo "run-with-network: teardown was not clean" >&2
    [ -f "$work/network.log" ] && { echo "---- network.mjs log ----" >&2; cat "$work/network.log" >&2; }
    [ "$rc" -eq 0 ] && rc=1
  fi
  if [ "$keep" = 1 ]; then
    echo "run-with-network: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Its own process group (job control gives a background job one, led by it), so teardown can
# reach atipay-server too should network.mjs die unclean.
set -m
node "$here/network.mjs" "${net_args[@]}" --dir "$work/net" --out "$json" \
  --env-out "$work/network.env" < /dev/null > "$work/network.log" 2>&1 &
node_pid=$!
set +m

timeout=${ATIPAY_E2E_START_TIMEOUT:-60}
start=$(date +%s%N)
while [ ! -s "$json" ]; do
  if ! kill -0 "$node_pid" 2> /dev/null; then
    echo "run-with-network: the network failed to start:" >&2
    cat "$work/network.log" >&2
    exit 1
  fi
  if [ $(( ($(date +%s%N) - start) / 1000000000 )) -ge "$timeout" ]; then
    echo "run-with-network: the network was not up within ${timeout} s:" >&2
    cat "$work/network.log" >&2
    exit 1
  fi
  sleep 0.05
done
up=1
set -a
# shellcheck disable=SC1091
. "$work/network.env"
set +a
ports=$(node -e 'const n = require(process.argv[1]); console.log([n.plc.port, n.pds.port, n.server.port].join(","))' "$json")
echo "run-with-network: network up in $(( ($(date +%s%N) - start) / 1000000 )) ms ($ATIPAY_E2E_NETWORK)" >&2
if ! node "$here/netcheck.mjs" bound --pgid "$node_pid" --ports "$ports" > "$work/bound.log"; then
  cat "$work/bound.log" >&2
  echo "run-with-network: the network listens beyond 127.0.0.1" >&2
  exit 1
fi

"$@"
