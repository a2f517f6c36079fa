#!/usr/bin/env bash
# Fuzzes one target (tests/fuzz/<target>_fuzz.cc) with libFuzzer, AddressSanitizer and UBSan:
#
#   tools/fuzz.sh TARGET [SECONDS] [-- LIBFUZZER_FLAGS...]   # default 300 s
#   tools/fuzz.sh --list
#   tools/fuzz.sh --keep TARGET                              # merge new finds into the corpus
#
# Builds with clang into build-fuzz/ (installs clang and its runtime if missing). Starts from
# the committed corpus, tests/fuzz/corpus/TARGET/, and keeps what it finds in
# build-fuzz/corpus/TARGET/; a crash is written to build-fuzz/crashes/TARGET/ and the run
# fails. Copy a crash into the committed corpus once fixed, so that the test
# fuzz_replay_TARGET keeps it fixed. --keep merges the inputs that add coverage (libFuzzer's
# -merge=1) into the committed corpus.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
corpus_src=$root/tests/fuzz/corpus

if [[ "${1:-}" == "--list" ]]; then
  ls "$corpus_src"
  exit 0
fi
keep=0
if [[ "${1:-}" == "--keep" ]]; then
  keep=1
  shift
fi
target=${1:?usage: tools/fuzz.sh [--keep] TARGET [SECONDS] [-- LIBFUZZER_FLAGS...]}
shift
seconds=300
if [[ $# -gt 0 && "$1" != "--" ]]; then
  seconds=$1
  shift
fi
[[ "${1:-}" == "--" ]] && shift
# libFuzzer reads a bad -max_total_time as 0, which means no limit.
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS is a whole number of seconds, not $seconds" >&2; exit 2; }
[[ -d "$corpus_src/$target" ]] || { echo "fuzz.sh: no target $target (--list)" >&2; exit 2; }

bash "$root/tools/setup-deps.sh"
if ! command -v clang++ >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null |
    grep -q 'install ok installed'; then
  [[ $(id -u) -eq 0 ]] || { echo "fuzz.sh: clang and libclang-rt-14-dev are missing; run as root (or install them)" >&2; exit 1; }
  echo "fuzz.sh: installing clang and its sanitizer runtime"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi
if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DATIPAY_SANITIZE=fuzzer-no-link,address,undefined -DATIPAY_WERROR=OFF -DATIPAY_FUZZ=ON \
    >/dev/null
fi
ninja -C "$build" "fuzz_$target"

work=$build/corpus/$target
crashes=$build/crashes/$target
mkdir -p "$work" "$crashes"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [[ $keep -eq 1 ]]; then
  # Merge: of everything found so far, the inputs that add coverage to the committed corpus.
  "$build/tests/fuzz/fuzz_$target" -merge=1 "$corpus_src/$target" "$work"
  exit 0
fi
# Seeds first, then the work directory gets what libFuzzer finds.
"$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1 "$@" \
  "$work" "$corpus_src/$target"
