#!/usr/bin/env bash
# CTest entry for the differentials (lexdiff.mjs, paramsdiff.mjs): installs the pinned packages
# if needed, then runs the script. Usage: differential.sh <script.mjs> <driver binary>
# <lexicon dir>...
set -euo pipefail
script=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
. ./npm-ci-if-needed.sh
exec node "$script" "$@"
