#!/usr/bin/env bash
# Installs the Debian 12 packages atipay needs to build, run and test.
# Idempotent: prints nothing and installs nothing when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev   # Beast, Asio, JSON (never the 1.74 libboost-dev)
  libsqlite3-dev                           # the embedded store
  libssl-dev                               # SHA-256, P-256 (ES256), TLS
  libsecp256k1-dev                         # ES256K verification, ~10x faster than OpenSSL
  libjemalloc-dev                          # atipay-server's allocator: 14% fewer instructions per clone
  libicu-dev                               # grapheme clusters for maxGraphemes
  libgtest-dev libgmock-dev libbenchmark-dev
  nodejs npm                               # interop tests with the official TypeScript client
  wrk                                      # HTTP load for the server benchmarks
  curl python3                             # tests and benchmark scripts that start servers
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# nodejs from another source (e.g. nodesource) ships npm itself; accept a working npm binary.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
if [[ " ${missing[*]} " == *" nodejs "* ]] && command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
fi
read -r -a missing <<<"${missing[*]}"
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-deps: missing packages: ${missing[*]}; run as root (or install them)" >&2
  exit 1
fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
