#!/usr/bin/env bash
# Regenerates the generator's golden files (tests/codegen/golden/expected) after an intended
# change to lexgen. Review the diff before committing it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja >/dev/null
ninja -C "$build" lexgen >/dev/null
rm -rf "$root/tests/codegen/golden/expected"
"$build/bin/lexgen" generate --out "$root/tests/codegen/golden/expected" "$root/tests/codegen/golden/lexicons"
git -C "$root" status --short tests/codegen/golden/expected
