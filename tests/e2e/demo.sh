#!/usr/bin/env bash
# A guided tour of atipay on a local atproto network: a PLC directory, a real PDS and
# atipay-server on 127.0.0.1 (network/run-with-network.sh), driven with the atipay-agent CLI as an
# app would drive it, through alice's PDS with atproto-proxy: <server did>#payments.
#
#   tools/build.sh && tests/e2e/demo.sh          # or BUILD_DIR=... tests/e2e/demo.sh
#
# 1. alice creates a tip for bob (com.atiproto.payment.item.create): an item and a cart, written
#    to alice's repo on the PDS by the agent (the server's workflow);
# 2. the operator records the payment (atipay-admin ... payment CART completed);
# 3. cart.get shows the cart before and after: its sync workflow brings the records in alice's
#    repo up to date (status completed);
# 4. alice clones the paid cart (com.atiproto.payment.cart.clone): a new item and a new open
#    cart; cart.get of the new cart, and its record as the PDS holds it next to our database row.
# Everything is stopped and removed at the end (or on Ctrl-C). Needs node (the network's PDS
# runs on it); the first run installs the network's npm packages (network/install.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/bin

if [ -z "${ATIPAY_E2E_NETWORK:-}" ]; then
  for b in atipay-server atipay-agent atipay-admin; do
    if [ ! -x "$bin/$b" ]; then
      echo "demo: $bin/$b is missing; build first: tools/build.sh atipay-server atipay-agent atipay-admin" >&2
      exit 2
    fi
  done
  command -v node > /dev/null || { echo "demo: node is needed (tools/setup-deps.sh installs it)" >&2; exit 2; }
  echo "Starting a local network: PLC directory, PDS (@atproto/pds), atipay-server, accounts alice.test and bob.test ..."
  BUILD_DIR=$build exec bash "$here/network/run-with-network.sh" --server "$bin/atipay-server" \
    -- bash "$here/demo.sh"
fi

# ---- inside the network ---------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/atipay-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Formats the JSON on stdin for humans: `show KIND` (node, which the network needs anyway).
show() {
  # shellcheck disable=SC2016  # JavaScript, not shell
  node --input-type=module -e '
const kind = process.argv[1]
const text = await new Promise((r) => { let s = ""; process.stdin.on("data", (d) => s += d); process.stdin.on("end", () => r(s)) })
const j = JSON.parse(text)
const money = (n, c) => `${(n / 100).toFixed(2)} ${c}`
const when = (s) => s ? s.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "-"
const line = (v) => {
  const kind = v.uri.includes("/com.atiproto.subscription/") ? "subscription" : "item"
  const extra = kind === "item" ? (v.message ? `, "${v.message}"` : "") : `, ${v.interval}`
  return `    ${kind.padEnd(12)} ${v.uri}\n` +
    `                 ${money(v.amount, v.currency)} to ${v.subject ?? "(private)"}, ${v.status}${extra}`
}
const cart = (c, cid, checkout) => {
  const out = [
    `  cart           ${c.uri}`,
    `                 ${c.status.toUpperCase()}, total ${money(c.total, c.currency)}, ${c.items.length} line(s)`,
    `                 created ${when(c.createdAt)}, expires ${when(c.expiresAt)}` +
      (c.completedAt ? `, completed ${when(c.completedAt)}` : ""),
  ]
  if (cid) out.push(`                 cid ${cid}`)
  if (checkout) out.push(`                 checkout ${checkout}`)
  return out.join("\n")
}
switch (kind) {
  case "get":    // cart.get output
    console.log(cart(j.cart, j.cid, j.checkoutUrl))
    for (const v of [...j.items, ...j.subscriptions]) console.log(line(v))
    break
  case "create": // item.create / cart.clone output
    console.log(cart(j.cart, undefined, j.checkoutUrl))
    for (const v of j.item ? [j.item] : [...(j.items ?? []), ...(j.subscriptions ?? [])]) console.log(line(v))
    break
  case "field":  // a top-level string field
    console.log(j[process.argv[2]])
    break
  case "compare": { // {pds: getRecord answer, db: atipay-admin show}
    const same = JSON.stringify(sort(j.pds.value)) === JSON.stringify(sort(j.db.record))
    console.log(`    on the PDS:  cid ${j.pds.cid}\n    our row:     cid ${j.db.cid}, status ${j.db.status}` +
      (j.db.clonedFrom ? `, cloned from ${j.db.clonedFrom}` : ""))
    console.log(`    ${j.pds.cid === j.db.cid && same ? "same CID and same record JSON" : "DIFFERENT!"}`)
    console.log(JSON.stringify(j.pds.value, null, 2).replace(/^/gm, "      "))
    if (j.pds.cid !== j.db.cid || !same) process.exit(1)
    break
  }
}
function sort(v) {
  if (Array.isArray(v)) return v.map(sort)
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])]))
  return v
}
' "$@"
}

step=0
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
title() {
  step=$((step + 1))
  printf '\n%s%d. %s%s\n' "$bold" "$step" "$*" "$plain"
}

# The agent CLI, logged in as alice at the PDS, calling the server through it.
agent() {
  local out=$work/out.json err=$work/err.txt
  if ! "$bin/atipay-agent" --pds "$ATIPAY_E2E_PDS_URL" --identifier "$ATIPAY_E2E_ALICE_HANDLE" \
      --password "$ATIPAY_E2E_ALICE_PASSWORD" --service "$ATIPAY_E2E_SERVICE_REF" \
      call "$@" --verbose > "$out" 2> "$err"; then
    sed 's/^/    ! /' "$err" >&2
    exit 1
  fi
  # The workflow, as the agent ran it: rounds and the record writes on alice's PDS.
  grep -v '^logged in' "$err" | sed 's/^/    | /'
  cat "$out" > "$work/last.json"
}

admin() { "$bin/atipay-admin" --db "$ATIPAY_E2E_DB" "$@"; }

echo "Network up:"
echo "  PDS            $ATIPAY_E2E_PDS_URL"
echo "  atipay-server  $ATIPAY_E2E_SERVER_URL, published as $ATIPAY_E2E_SERVER_DID"
echo "  alice.test     $ATIPAY_E2E_ALICE_DID"
echo "  bob.test       $ATIPAY_E2E_BOB_DID"
echo "  (agent calls: atipay-agent --pds \$PDS --identifier alice.test --password ... --service $ATIPAY_E2E_SERVICE_REF call NSID ...)"

title "alice tips bob 5.00 USD: com.atiproto.payment.item.create (a new item in a new cart)"
agent com.atiproto.payment.item.create \
  --input "{\"subject\":\"$ATIPAY_E2E_BOB_DID\",\"amount\":500,\"currency\":\"USD\",\"message\":\"thanks for the demo\"}"
show create < "$work/last.json"
cart=$(show field cartUri < "$work/last.json")

title "The cart before payment: com.atiproto.payment.cart.get"
agent com.atiproto.payment.cart.get --params "uri=$cart"
show get < "$work/last.json"

title "The operator records the payment: atipay-admin --db ... payment <cart> completed"
admin payment "$cart" completed | sed 's/^/    /'

title "cart.get after payment: its syncCart workflow updates alice's records on the PDS"
agent com.atiproto.payment.cart.get --params "uri=$cart"
show get < "$work/last.json"

title "alice clones the paid cart: com.atiproto.payment.cart.clone"
agent com.atiproto.payment.cart.clone --input "{\"uri\":\"$cart\"}"
show create < "$work/last.json"
new_cart=$(show field cartUri < "$work/last.json")

title "The new cart: com.atiproto.payment.cart.get"
agent com.atiproto.payment.cart.get --params "uri=$new_cart"
show get < "$work/last.json"

title "The new cart on alice's PDS (com.atproto.repo.getRecord) and in our database (atipay-admin show)"
rest=${new_cart#at://}
# shellcheck disable=SC2016
node -e '
const [pds, repo, collection, rkey] = process.argv.slice(1)
const qs = new URLSearchParams({ repo, collection, rkey })
fetch(`${pds}/xrpc/com.atproto.repo.getRecord?${qs}`).then((r) => r.text()).then((t) => process.stdout.write(t))
' "$ATIPAY_E2E_PDS_URL" "${rest%%/*}" com.atiproto.cart "${rest##*/}" > "$work/pds.json"
admin show "$new_cart" > "$work/db.json"
printf '{"pds":%s,"db":%s}' "$(cat "$work/pds.json")" "$(cat "$work/db.json")" | show compare

printf '\nDone; stopping the network.\n'
