#!/usr/bin/env node
// Smoke test of the local atproto network (run under network/run-with-network.sh).
//
//   node smoke.mjs          atipay-server: alice, logged in at the real PDS, calls
//                           com.atiproto.payment.cart.clone with atproto-proxy: <did>#payments;
//                           the call must reach atipay-server (its access-log line, from
//                           loopback, with the status the PDS passed back). Service auth runs
//                           before the body is read, so the empty body gets 400 InvalidRequest
//                           and the log line carries alice's DID.
//   node smoke.mjs --probe  atipay-e2e-probe-server: alice and bob call dev.atipay.e2e.whoami
//                           (auth required) through the PDS; 200 with the verifier's view of the
//                           token (iss, lxm) proves the PDS's service JWT passed atipay's
//                           verifier, keys resolved at the local PLC. Negative controls go
//                           straight to the server: no token, a token for another audience,
//                           a token for another method (each minted by the PDS with
//                           com.atproto.server.getServiceAuth) get 401s.
import assert from 'node:assert/strict'
import fs from 'node:fs'

const probe = process.argv.includes('--probe')
const net = JSON.parse(fs.readFileSync(process.env.ATIPAY_E2E_NETWORK, 'utf8'))
const t0 = performance.now()
const step = (msg) => console.log(`smoke: ${msg} (${Math.round(performance.now() - t0)} ms)`)

async function call(base, nsid, { params, body, token, proxy, method } = {}) {
  const qs = params ? `?${new URLSearchParams(params)}` : ''
  const headers = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token) headers.authorization = `Bearer ${token}`
  if (proxy) headers['atproto-proxy'] = proxy
  const res = await fetch(`${base}/xrpc/${nsid}${qs}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch { json = { raw: text } }
  return { status: res.status, json }
}

const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'))

// The access-log line of the request (the log is flushed every 200 ms).
async function accessLogLine(predicate, what) {
  assert.ok(net.server.accessLog, 'the server must log to a file (--access-log PATH)')
  const deadline = Date.now() + 5000
  for (;;) {
    let lines = []
    try {
      lines = fs.readFileSync(net.server.accessLog, 'utf8').split('\n').filter(Boolean)
        .map((l) => JSON.parse(l))
    } catch {}
    const found = lines.filter(predicate)
    if (found.length > 0) return found
    if (Date.now() > deadline) {
      throw new Error(`no access-log line for ${what} in ${net.server.accessLog}:\n` +
        lines.map((l) => JSON.stringify(l)).join('\n'))
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function login(account) {
  const r = await call(net.pds.url, 'com.atproto.server.createSession', {
    body: { identifier: account.handle, password: account.password },
  })
  assert.equal(r.status, 200, `createSession ${account.handle}: ${JSON.stringify(r.json)}`)
  assert.equal(r.json.did, account.did)
  assert.equal(r.json.handle, account.handle)
  return r.json.accessJwt
}

// --- the network is what it says it is --------------------------------------------------------
const alice = net.accounts.find((a) => a.name === 'alice')
const bob = net.accounts.find((a) => a.name === 'bob')
assert.ok(alice && bob, 'accounts alice and bob')
assert.match(alice.did, /^did:plc:[a-z2-7]{24}$/)
assert.equal(net.server.did, `did:web:localhost%3A${net.server.port}`)
assert.equal(net.server.serviceRef, `${net.server.did}#${net.server.serviceId}`)

const plcDoc = await (await fetch(`${net.plc.url}/${alice.did}`)).json()
assert.equal(plcDoc.id, alice.did)
assert.deepEqual(plcDoc.alsoKnownAs, [`at://${alice.handle}`])
assert.ok(plcDoc.verificationMethod.some((m) => m.id.endsWith('#atproto')), 'alice has an #atproto key')
assert.equal(plcDoc.service.find((s) => s.id.endsWith('#atproto_pds'))?.serviceEndpoint,
  net.pds.publicUrl)

const serverDoc = await (await fetch(`${net.server.url}/.well-known/did.json`)).json()
assert.equal(serverDoc.id, net.server.did)
const entry = serverDoc.service.find((s) => s.id === `#${net.server.serviceId}` ||
  s.id === `${net.server.did}#${net.server.serviceId}`)
assert.equal(entry?.serviceEndpoint, net.server.publicUrl, JSON.stringify(serverDoc))
step('PLC has alice; atipay-server serves its did.json')

const aliceToken = await login(alice)
step('alice logged in at the PDS')

// Without atproto-proxy the PDS does not know where to send a com.atiproto call.
const noProxy = await call(net.pds.url, 'com.atiproto.payment.cart.clone', {
  body: {}, token: aliceToken,
})
assert.equal(noProxy.status, 400, JSON.stringify(noProxy.json))

if (!probe) {
  // --- atipay-server --------------------------------------------------------------------------
  const nsid = 'com.atiproto.payment.cart.clone'
  const r = await call(net.pds.url, nsid, {
    body: {}, token: aliceToken, proxy: net.server.serviceRef,
  })
  const [line] = await accessLogLine((l) => l.nsid === nsid, nsid)
  assert.equal(line.status, r.status, 'the PDS passes atipay-server\'s status through')
  assert.equal(line.remote.split(':')[0].replace(/^\[|\]$/g, ''), '127.0.0.1')
  // The method is registered: service auth runs before the body is read, so an empty body
  // that passed auth is refused by input validation, and the log line names the caller.
  assert.equal(r.status, 400, `expected input validation to refuse {}: ${r.status} ${JSON.stringify(r.json)}`)
  assert.equal(r.json.error, 'InvalidRequest', JSON.stringify(r.json))
  assert.equal(line.did, alice.did, `the access log names the caller: ${JSON.stringify(line)}`)
  step(`proxied ${nsid} reached atipay-server and passed service auth as ${alice.did}: ` +
    `${r.status} ${r.json.error}`)
} else {
  // --- the probe: the PDS's JWT through atipay's verifier -------------------------------------
  const nsid = 'dev.atipay.e2e.whoami'
  const r = await call(net.pds.url, nsid, { token: aliceToken, proxy: net.server.serviceRef })
  assert.equal(r.status, 200, `proxied ${nsid}: ${r.status} ${JSON.stringify(r.json)}`)
  assert.equal(r.json.did, alice.did)
  assert.equal(r.json.iss, alice.did)
  assert.equal(r.json.lxm, nsid)
  assert.equal(r.json.alg, 'ES256K')
  const header = b64json(r.json.jwtHeader)
  const payload = b64json(r.json.jwtPayload)
  assert.deepEqual(header, { typ: 'JWT', alg: 'ES256K' })
  assert.equal(payload.aud, net.server.did, 'the PDS mints aud = the bare service DID')
  assert.equal(payload.iss, alice.did)
  assert.equal(payload.lxm, nsid)
  assert.equal(payload.exp - payload.iat, 60)
  step(`proxied ${nsid} as alice: 200, verified; PDS token header ${JSON.stringify(header)} ` +
    `payload ${JSON.stringify({ ...payload, jti: `<${payload.jti.length} chars>` })}`)
  const [line] = await accessLogLine((l) => l.nsid === nsid && l.did === alice.did, `${nsid} as alice`)
  assert.equal(line.status, 200)

  // Again: a fresh token (new jti), the key now cached.
  const again = await call(net.pds.url, nsid, { token: aliceToken, proxy: net.server.serviceRef })
  assert.equal(again.status, 200, JSON.stringify(again.json))
  assert.notEqual(b64json(again.json.jwtPayload).jti, payload.jti)

  const bobToken = await login(bob)
  const asBob = await call(net.pds.url, nsid, { token: bobToken, proxy: net.server.serviceRef })
  assert.equal(asBob.status, 200, JSON.stringify(asBob.json))
  assert.equal(asBob.json.did, bob.did)
  step('again as alice (new jti) and as bob: 200 with their DIDs')

  // Negative controls, straight to the server.
  const none = await call(net.server.url, nsid)
  assert.equal(none.status, 401)
  assert.equal(none.json.error, 'AuthenticationRequired')
  const mint = async (aud, lxm) => {
    const t = await call(net.pds.url, 'com.atproto.server.getServiceAuth', {
      params: { aud, lxm }, token: aliceToken,
    })
    assert.equal(t.status, 200, JSON.stringify(t.json))
    return t.json.token
  }
  const direct = await call(net.server.url, nsid, { token: await mint(net.server.did, nsid) })
  assert.equal(direct.status, 200, `getServiceAuth token: ${JSON.stringify(direct.json)}`)
  assert.equal(direct.json.did, alice.did)
  const otherAud = await call(net.server.url, nsid, {
    token: await mint('did:web:localhost%3A1', nsid),
  })
  assert.equal(otherAud.status, 401)
  assert.equal(otherAud.json.error, 'BadJwtAudience')
  const otherLxm = await call(net.server.url, nsid, {
    token: await mint(net.server.did, 'com.atiproto.payment.cart.clone'),
  })
  assert.equal(otherLxm.status, 401)
  assert.equal(otherLxm.json.error, 'BadJwtLexiconMethod')
  step('direct: no token 401 AuthenticationRequired; getServiceAuth token 200; ' +
    'other aud 401 BadJwtAudience; other lxm 401 BadJwtLexiconMethod')
}
console.log('smoke: passed')
