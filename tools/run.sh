#!/usr/bin/env bash
# Builds and starts atipay-server with working defaults: 127.0.0.1:2585, SQLite at ./atipay.db.
# Arguments are passed to the server (see `atipay-server --help`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/tools/build.sh" atipay-server
exec "$build/bin/atipay-server" "$@"
