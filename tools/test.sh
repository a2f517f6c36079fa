#!/usr/bin/env bash
# Builds everything and runs every test (CTest: unit, interop vectors, corpus compile,
# server, auth, end-to-end). Arguments are passed to ctest (e.g. -R Golden).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/tools/build.sh"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@"
