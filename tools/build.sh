#!/usr/bin/env bash
# Configures and builds atipay into $BUILD_DIR (default: build/). Extra arguments are ninja
# targets (default: everything). Used by run.sh and test.sh.
#
# SANITIZE=address,undefined or SANITIZE=thread builds with those sanitizers instead, into
# build-<sanitizers>/ by default: -O1 with line tables (half the compile time of -O2 -g),
# assertions on (Boost's and libstdc++'s), and the system allocator in place of jemalloc.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=${SANITIZE:-}
if [[ -n "$sanitize" ]]; then
  build=${BUILD_DIR:-$root/build-${sanitize//,/-}}
else
  build=${BUILD_DIR:-$root/build}
fi
bash "$root/tools/setup-deps.sh"
if [[ ! -f "$build/build.ninja" ]]; then
  if [[ -n "$sanitize" ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -D_GLIBCXX_ASSERTIONS" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DATIPAY_SANITIZE="$sanitize" >/dev/null
  else
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
fi
ninja -C "$build" "$@"
