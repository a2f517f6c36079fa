#!/usr/bin/env bash
# Builds everything and runs every test (CTest: unit, interop vectors, corpus compile,
# server, auth, end-to-end). Arguments are passed to ctest (e.g. -R Golden).
#
# With SANITIZE=address,undefined or SANITIZE=thread (see build.sh), the same tests run on a
# sanitized build; every report, including one from a process a test started (atipay-server,
# atipay-load, ...) whose exit status the test does not look at, is written under
# <build>/sanitizer-reports/ and fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=${SANITIZE:-}
if [[ -n "$sanitize" ]]; then
  build=${BUILD_DIR:-$root/build-${sanitize//,/-}}
else
  build=${BUILD_DIR:-$root/build}
fi
BUILD_DIR=$build bash "$root/tools/build.sh"
cd "$build"
if [[ -z "$sanitize" ]]; then
  exec ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@"
fi

reports=$build/sanitizer-reports
rm -rf "$reports" && mkdir -p "$reports"
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="log_path=$reports/lsan"
export TSAN_OPTIONS="log_path=$reports/tsan:second_deadlock_stack=1:halt_on_error=0"
status=0
ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@" || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "test.sh: sanitizer reports (SANITIZE=$sanitize):" >&2
  for f in "$reports"/*; do
    echo "=== $f" >&2
    head -c 20000 "$f" >&2
  done
  status=1
fi
exit "$status"
