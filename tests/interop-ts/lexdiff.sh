#!/usr/bin/env bash
# CTest entry for the lexicon differential: installs the pinned packages if needed,
# then runs lexdiff.mjs. Usage: lexdiff.sh <lexdiff-driver binary> <lexicon dir>...
set -euo pipefail
driver=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
. ./npm-ci-if-needed.sh
exec node lexdiff.mjs "$driver" "$@"
