// Calls an atipay XRPC server with the official TypeScript client and checks that it gets
// results (validated by the client against the lexicons) and XRPC errors (status + error name).
// Usage: node client.mjs <service URL> <lexicons dir>
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { XrpcClient, XRPCError } from '@atproto/xrpc'

const [service, lexiconDir] = process.argv.slice(2)
const dir = join(lexiconDir, 'atiproto')
const docs = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
const client = new XrpcClient({ service }, docs)

const CART0 = 'at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/com.atiproto.cart/cart0000'
let passed = 0
let failed = 0

function assert(condition, message) {
  if (!condition) throw new Error(message)
}

async function check(name, fn) {
  try {
    await fn()
    passed++
    console.log(`ok   ${name}`)
  } catch (e) {
    failed++
    console.log(`FAIL ${name}: ${e?.stack ?? e}`)
  }
}

async function expectXrpcError(call, status, error, messagePrefix = '') {
  try {
    await call()
  } catch (e) {
    assert(e instanceof XRPCError, `not an XRPCError: ${e}`)
    assert(e.status === status, `status ${e.status}, want ${status}`)
    assert(e.error === error, `error ${e.error}, want ${error}`)
    assert(e.message.startsWith(messagePrefix), `message "${e.message}"`)
    return
  }
  throw new Error('the call succeeded')
}

await check('query returns a validated result', async () => {
  const res = await client.call('com.atiproto.repo.item.count', {})
  assert(res.success === true, 'not success')
  assert(res.data.count === 3, `count ${res.data.count}`)
})

await check('procedure returns a validated result', async () => {
  const res = await client.call('com.atiproto.payment.cart.clone', {}, { uri: CART0 })
  assert(res.data.cartUri.startsWith('at://'), `cartUri ${res.data.cartUri}`)
  assert(res.data.cart.items.length === 2, 'items')
})

await check('service-defined error (CartNotFound)', () =>
  expectXrpcError(
    () =>
      client.call('com.atiproto.payment.cart.clone', {}, {
        uri: 'at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/com.atiproto.cart/doesnotexist',
      }),
    400,
    'CartNotFound',
    'Cart not found: ',
  ),
)

await check('input validation error', () =>
  expectXrpcError(
    () => client.call('com.atiproto.payment.cart.clone', {}, { uri: 'not-an-at-uri' }),
    400,
    'InvalidRequest',
    'Input/uri must be a valid at-uri',
  ),
)

await check('params validation error', () =>
  expectXrpcError(
    () => client.call('com.atiproto.repo.item.count', { subject: 'not-a-did' }),
    400,
    'InvalidRequest',
    'Params/subject must be a valid did',
  ),
)

await check('method the server does not implement', () =>
  expectXrpcError(
    () => client.call('com.atiproto.payment.cart.get', { uri: CART0 }),
    501,
    'MethodNotImplemented',
  ),
)

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
