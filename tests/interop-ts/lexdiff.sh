#!/usr/bin/env bash
# CTest entry for the lexicon differential: installs the pinned @atproto/lexicon if needed,
# then runs lexdiff.mjs. Usage: lexdiff.sh <lexdiff-driver binary> <lexicon dir>...
set -euo pipefail
driver=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ ! -d node_modules/@atproto/lexicon ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node lexdiff.mjs "$driver" "$@"
