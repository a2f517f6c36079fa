#!/usr/bin/env bash
# Installs the pinned network tree (package-lock.json) with `npm ci`, unless node_modules already
# matches the lockfile. Safe to run concurrently (one install at a time).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.atipay-lock-sha256
current() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }
current && exit 0

exec 9> "${TMPDIR:-/tmp}/atipay-e2e-npm-$(echo "$here" | sha256sum | cut -c1-12).lock"
flock 9
current && exit 0
# better-sqlite3 (a PDS dependency) cannot fetch its prebuilt binary here and builds from source
# with node-gyp; Debian's nodejs ships the headers under /usr/include/node.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
echo "e2e: npm ci in $here (a few minutes the first time)" >&2
start=$(date +%s)
npm ci --no-audit --no-fund --no-update-notifier --loglevel=error
echo "$want" > "$stamp"
echo "e2e: npm ci done in $(( $(date +%s) - start )) s" >&2
