#!/usr/bin/env bash
# CTest entry for the params differential: installs the pinned packages if needed, then runs
# paramsdiff.mjs. Usage: paramsdiff.sh <paramsdiff-driver binary> <lexicon dir>...
set -euo pipefail
driver=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
. ./npm-ci-if-needed.sh
exec node paramsdiff.mjs "$driver" "$@"
