#!/usr/bin/env node
// A local atproto network for atipay's end-to-end tests, on loopback only:
//   - a PLC directory (@did-plc/server, in-memory Database.mock()),
//   - a PDS (@atproto/pds, dev mode, data in a temp dir),
//   - atipay-server (a child process) published as did:web:localhost%3A<port>, service #payments,
//   - accounts (alice.test, bob.test by default) created on the PDS, their DIDs on the PLC.
// Then it writes a JSON description of the network (--out) and waits. It stops everything it
// started and removes its temp dir on SIGINT/SIGTERM/SIGHUP, on its own failure (the server
// dying included), when its parent process goes away, or (--exit-on-stdin-close) when stdin
// closes. atipay-server runs under `setpriv --pdeathsig TERM`, so even a SIGKILL of this process
// takes it down.
//
// Usage: node network.mjs --server PATH [options]   (see --help)
import { spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const t0 = performance.now()

const HELP = `Usage: node network.mjs [options]
  --server PATH          atipay-server binary (env ATIPAY_SERVER; required)
  --server-arg=ARG       extra argument for the server (repeatable; a flag given here replaces
                         the harness's own value for it, e.g. --server-arg=--access-log=off;
                         not --listen or --service-did)
  --out FILE             write the network description (JSON) here once everything is up
  --env-out FILE         also write it as shell assignments (ATIPAY_E2E_*='...')
  --dir DIR              working directory (created; default: a new temp dir). Removed at exit
                         unless --keep
  --keep                 keep the working directory (databases, logs) and --out at exit
  --plc-port N, --pds-port N, --server-port N   fixed ports (default: free ones)
  --accounts a,b         account names; each gets handle <name>.test (default: alice,bob)
  --service-id ID        the server's service id (default: payments)
  --log-pds              PDS/PLC logs (pino JSON) to <dir>/pds.log
  --exit-on-stdin-close  stop when stdin reaches EOF (for a parent holding a pipe)
  --once                 start, write --out, stop (a self-check)
`

function parseArgs(argv) {
  const o = {
    server: process.env.ATIPAY_SERVER || '',
    serverArgs: [],
    out: '',
    envOut: '',
    dir: '',
    keep: false,
    ports: { plc: 0, pds: 0, server: 0 },
    accounts: ['alice', 'bob'],
    serviceId: 'payments',
    logPds: false,
    stdinWatch: false,
    once: false,
  }
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]
    let v
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1)
      a = a.slice(0, eq)
    }
    const value = () => {
      if (v !== undefined) return v
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    const port = () => {
      const n = Number(value())
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${a}: bad port`)
      return n
    }
    switch (a) {
      case '--help': process.stdout.write(HELP); process.exit(0)
      case '--server': o.server = value(); break
      case '--server-arg': o.serverArgs.push(value()); break
      case '--out': o.out = value(); break
      case '--env-out': o.envOut = value(); break
      case '--dir': o.dir = value(); break
      case '--keep': o.keep = true; break
      case '--plc-port': o.ports.plc = port(); break
      case '--pds-port': o.ports.pds = port(); break
      case '--server-port': o.ports.server = port(); break
      case '--accounts': o.accounts = value().split(',').filter(Boolean); break
      case '--service-id': o.serviceId = value(); break
      case '--log-pds': o.logPds = true; break
      case '--exit-on-stdin-close': o.stdinWatch = true; break
      case '--once': o.once = true; break
      default: throw new Error(`unknown argument ${argv[i]} (see --help)`)
    }
  }
  if (!o.server) throw new Error('--server PATH (or ATIPAY_SERVER) is required')
  for (const flag of ['--listen', '--service-did']) {
    if (o.serverArgs.some((a) => a === flag || a.startsWith(`${flag}=`))) {
      throw new Error(`${flag} is the harness's (use --server-port)`)
    }
  }
  for (const name of o.accounts) {
    if (!/^[a-z][a-z0-9-]{2,17}$/.test(name)) throw new Error(`bad account name ${name}`)
  }
  return o
}

const log = (msg) => process.stderr.write(`network: ${msg}\n`)
const ms = () => `${Math.round(performance.now() - t0)} ms`
const sleep = (n) => new Promise((r) => setTimeout(r, n))

// Free loopback ports, all held at once so they differ.
async function freePorts(count) {
  const servers = []
  try {
    for (let i = 0; i < count; i++) {
      const s = net.createServer()
      await new Promise((res, rej) => { s.once('error', rej); s.listen(0, '127.0.0.1', res) })
      servers.push(s)
    }
    return servers.map((s) => s.address().port)
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  }
}

// express's app.listen(port) binds every interface; make it bind 127.0.0.1.
function bindLoopback(app) {
  const listen = app.listen
  app.listen = function (port, ...rest) {
    if (typeof rest[0] === 'string') rest.shift()  // a host, should one be passed
    return listen.call(this, port, '127.0.0.1', ...rest)
  }
}

async function withTimeout(promise, msec, what) {
  let timer
  try {
    return await Promise.race([
      promise,
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what}: timed out after ${msec} ms`)), msec) }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

async function xrpc(base, nsid, { body, token, headers = {} } = {}) {
  const res = await fetch(`${base}/xrpc/${nsid}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch { json = { raw: text } }
  if (!res.ok) {
    const err = new Error(`${nsid}: ${res.status} ${json.error ?? ''} ${json.message ?? text}`)
    err.status = res.status
    throw err
  }
  return json
}

function shellQuote(s) {
  return `'${String(s).replaceAll("'", `'\\''`)}'`
}

function envOf(info) {
  const env = {
    ATIPAY_E2E_NETWORK: info.file,
    ATIPAY_E2E_DIR: info.dir,
    ATIPAY_E2E_PLC_URL: info.plc.url,
    ATIPAY_E2E_PDS_URL: info.pds.url,
    ATIPAY_E2E_SERVER_URL: info.server.url,
    ATIPAY_E2E_SERVER_DID: info.server.did,
    ATIPAY_E2E_SERVICE_REF: info.server.serviceRef,
    ATIPAY_E2E_DB: info.server.db,
    ATIPAY_E2E_ACCESS_LOG: info.server.accessLog ?? '',
  }
  for (const a of info.accounts) {
    const k = a.name.toUpperCase().replaceAll('-', '_')
    env[`ATIPAY_E2E_${k}_HANDLE`] = a.handle
    env[`ATIPAY_E2E_${k}_DID`] = a.did
    env[`ATIPAY_E2E_${k}_PASSWORD`] = a.password
  }
  return env
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, text, { mode: 0o600 })
  fs.renameSync(tmp, file)
}

// ---- state for teardown -------------------------------------------------------------------
const state = { plc: null, pds: null, child: null, childExited: null, dir: '',
  keep: false, stopping: false, files: [] }

async function stopChild() {
  const child = state.child
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const exited = await Promise.race([state.childExited.then(() => true), sleep(5000).then(() => false)])
  if (!exited) {
    log('atipay-server did not stop within 5 s of SIGTERM: SIGKILL')
    child.kill('SIGKILL')
    await Promise.race([state.childExited, sleep(2000)])
  }
}

async function teardown(code, why) {
  if (state.stopping) return
  state.stopping = true
  const t = performance.now()
  if (why) log(`stopping (${why})`)
  // A second signal during teardown: kill the child and leave at once.
  const hard = () => {
    try { state.child?.kill('SIGKILL') } catch {}
    cleanupFiles()
    process.exit(code || 1)
  }
  process.on('SIGINT', hard)
  process.on('SIGTERM', hard)
  try {
    await stopChild()
    const results = await Promise.allSettled([
      state.pds && withTimeout(state.pds.destroy(), 5000, 'PDS destroy'),
      state.plc && withTimeout(state.plc.destroy(), 5000, 'PLC destroy'),
    ])
    for (const r of results) if (r.status === 'rejected') log(`teardown: ${r.reason?.message ?? r.reason}`)
  } catch (e) {
    log(`teardown: ${e.message}`)
  }
  cleanupFiles()
  log(`stopped in ${Math.round(performance.now() - t)} ms`)
  process.exit(code)
}

function cleanupFiles() {
  if (state.keep) return
  for (const f of state.files) { try { fs.rmSync(f, { force: true }) } catch {} }
  if (state.dir) {
    try {
      fs.rmSync(state.dir, { recursive: true, force: true })  // a given --dir too: ours alone
    } catch (e) {
      log(`could not remove ${state.dir}: ${e.message}`)
    }
  }
}

function dumpServerLog() {
  try {
    const text = fs.readFileSync(path.join(state.dir, 'atipay-server.log'), 'utf8')
    if (text) process.stderr.write(`---- atipay-server log ----\n${text}---- end ----\n`)
  } catch {}
}

// ---- startup -------------------------------------------------------------------------------
async function start(o) {
  // Working directory.
  if (o.dir) {
    fs.mkdirSync(o.dir, { recursive: true })
    state.dir = fs.realpathSync(o.dir)
  } else {
    state.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atipay-e2e-'))
  }
  state.keep = o.keep
  const dir = state.dir

  const serverBin = path.resolve(o.server)
  fs.accessSync(serverBin, fs.constants.X_OK)

  const [p1, p2, p3] = await freePorts(3)
  const plcPort = o.ports.plc || p1
  const pdsPort = o.ports.pds || p2
  const serverPort = o.ports.server || p3

  // Environment read at module load by the loggers of @atproto/pds and @did-plc/server.
  process.env.LOG_ENABLED = o.logPds ? 'true' : 'false'
  if (o.logPds) process.env.LOG_DESTINATION = path.join(dir, 'pds.log')

  const { Secp256k1Keypair } = await import('@atproto/crypto')
  const plcLib = require('@did-plc/server')
  const pdsLib = await import('@atproto/pds')
  const loaded = ms()

  // PLC directory, in memory.
  const plc = plcLib.PlcServer.create({ db: plcLib.Database.mock(), port: plcPort })
  bindLoopback(plc.app)
  await plc.start()
  state.plc = plc
  const plcUrl = `http://127.0.0.1:${plcPort}`

  // PDS.
  const rotationKey = await Secp256k1Keypair.create({ exportable: true })
  const rotationKeyHex = Buffer.from(await rotationKey.export()).toString('hex')
  const adminPassword = crypto.randomBytes(16).toString('hex')
  const pdsDataDir = path.join(dir, 'pds')
  fs.mkdirSync(path.join(pdsDataDir, 'blocks'), { recursive: true })
  const pdsEnvVars = {
    PDS_HOSTNAME: 'localhost',
    PDS_PORT: String(pdsPort),
    PDS_DATA_DIRECTORY: pdsDataDir,
    PDS_BLOBSTORE_DISK_LOCATION: path.join(pdsDataDir, 'blocks'),
    PDS_JWT_SECRET: crypto.randomBytes(32).toString('hex'),
    PDS_ADMIN_PASSWORD: adminPassword,
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: rotationKeyHex,
    PDS_DID_PLC_URL: plcUrl,
    PDS_DEV_MODE: 'true',
    PDS_INVITE_REQUIRED: 'false',
    PDS_CRAWLERS: '',
  }
  Object.assign(process.env, pdsEnvVars)
  const env = pdsLib.readEnv()
  const pds = await pdsLib.PDS.create(pdsLib.envToCfg(env), pdsLib.envToSecrets(env))
  bindLoopback(pds.app)
  await pds.start()
  state.pds = pds
  const pdsUrl = `http://127.0.0.1:${pdsPort}`

  // atipay-server, published as did:web:localhost%3A<port>: the PDS's did:web resolver fetches
  // http://localhost:<port>/.well-known/did.json (http only for the host "localhost").
  const serverDid = `did:web:localhost%3A${serverPort}`
  const serverUrl = `http://127.0.0.1:${serverPort}`
  const defaults = [
    ['--listen', `127.0.0.1:${serverPort}`],
    ['--service-did', serverDid],
    ['--service-id', o.serviceId],
    ['--public-url', serverUrl],
    ['--plc-url', plcUrl],
    ['--db', path.join(dir, 'atipay.db')],
    ['--access-log', path.join(dir, 'access.log')],
    ['--dev-allow-http-did-web'],
  ]
  const overridden = (flag) => o.serverArgs.some((a) => a === flag || a.startsWith(`${flag}=`) ||
    (flag.startsWith('--dev-') && a === `--no-${flag.slice(2)}`))
  const args = []
  for (const [flag, value] of defaults) {
    if (overridden(flag)) continue
    args.push(flag)
    if (value !== undefined) args.push(value)
  }
  args.push(...o.serverArgs)
  const argValue = (flag, fallback) => {
    for (let i = args.length - 1; i >= 0; i--) {
      if (args[i] === flag && i + 1 < args.length) return args[i + 1]
      if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1)
    }
    return fallback
  }
  const serverLog = fs.openSync(path.join(dir, 'atipay-server.log'), 'a')
  const haveSetpriv = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0
  const [cmd, cmdArgs] = haveSetpriv
    ? ['setpriv', ['--pdeathsig', 'TERM', '--', serverBin, ...args]]
    : [serverBin, args]
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', serverLog, serverLog], cwd: dir })
  fs.closeSync(serverLog)
  state.child = child
  state.childExited = new Promise((r) => child.once('exit', r))
  child.once('exit', (code, signal) => {
    if (state.stopping) return
    log(`atipay-server exited (${signal ?? code}) unexpectedly`)
    dumpServerLog()
    void teardown(1, 'atipay-server died')
  })
  child.once('error', (e) => {
    log(`cannot start ${serverBin}: ${e.message}`)
    void teardown(1, 'spawn failed')
  })

  // Server up (health), then its DID document as the PDS resolves it.
  const deadline = Date.now() + 20000
  for (;;) {
    try {
      const res = await fetch(`${serverUrl}/xrpc/_health`)
      if (res.ok) break
    } catch {}
    if (state.stopping) throw new Error('atipay-server did not start')
    if (Date.now() > deadline) throw new Error('atipay-server: no /xrpc/_health after 20 s')
    await sleep(25)
  }
  const didDoc = await withTimeout(pds.ctx.idResolver.did.resolve(serverDid, true), 10000,
    'PDS resolving the server DID')
  if (!didDoc) throw new Error(`the PDS could not resolve ${serverDid}`)
  const { getServiceEndpoint } = require('@atproto/common')
  const endpoint = getServiceEndpoint(didDoc, { id: `#${o.serviceId}` })
  const publicUrl = argValue('--public-url', serverUrl)
  if (endpoint !== publicUrl) {
    throw new Error(`the PDS sees service #${o.serviceId} of ${serverDid} at ${endpoint}, ` +
      `not ${publicUrl}: ${JSON.stringify(didDoc)}`)
  }

  // Accounts.
  const accounts = []
  for (const name of o.accounts) {
    const handle = `${name}.test`
    const password = `${name}-${crypto.randomBytes(6).toString('hex')}`
    const email = `${name}@example.com`
    const res = await xrpc(pdsUrl, 'com.atproto.server.createAccount', {
      body: { handle, email, password },
    })
    accounts.push({ name, handle, did: res.did, password, email })
  }

  const accessLog = argValue('--access-log', '-')
  const info = {
    version: 1,
    file: o.out ? path.resolve(o.out) : '',
    pid: process.pid,
    dir,
    startupMs: Math.round(performance.now() - t0),
    plc: { url: plcUrl, port: plcPort },
    pds: {
      url: pdsUrl,
      publicUrl: `http://localhost:${pdsPort}`,
      port: pdsPort,
      did: pds.ctx.cfg.service.did,
      adminPassword,
      dataDir: pdsDataDir,
    },
    server: {
      url: serverUrl,
      port: serverPort,
      did: serverDid,
      serviceId: o.serviceId,
      serviceRef: `${serverDid}#${o.serviceId}`,
      publicUrl,
      pid: child.pid,
      binary: serverBin,
      args,
      db: path.resolve(dir, argValue('--db', 'atipay.db')),
      accessLog: accessLog === '-' || accessLog === 'off' ? null : path.resolve(dir, accessLog),
      log: path.join(dir, 'atipay-server.log'),
    },
    accounts,
  }
  if (o.out) {
    state.files.push(path.resolve(o.out))
    writeAtomic(o.out, JSON.stringify(info, null, 2) + '\n')
  }
  if (o.envOut) {
    state.files.push(path.resolve(o.envOut))
    const lines = Object.entries(envOf(info)).map(([k, v]) => `${k}=${shellQuote(v)}`)
    writeAtomic(o.envOut, lines.join('\n') + '\n')
  }
  log(`up in ${ms()} (modules loaded at ${loaded}): PLC ${plcUrl}, PDS ${pdsUrl}, ` +
    `${serverDid} at ${serverUrl}, accounts ${accounts.map((a) => a.handle).join(' ')}`)
  return info
}

// ---- main ----------------------------------------------------------------------------------
let opts
try {
  opts = parseArgs(process.argv.slice(2))
} catch (e) {
  log(e.message)
  process.exit(2)
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => void teardown(0, sig))
process.on('uncaughtException', (e) => { log(`uncaught: ${e.stack ?? e}`); void teardown(1, 'error') })
process.on('unhandledRejection', (e) => { log(`unhandled: ${e?.stack ?? e}`); void teardown(1, 'error') })

// The parent going away (e.g. killed by a test runner) stops the network.
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) void teardown(0, 'parent exited')
}, 250).unref()
if (opts.stdinWatch) {
  process.stdin.on('end', () => void teardown(0, 'stdin closed'))
  process.stdin.on('error', () => void teardown(0, 'stdin closed'))
  process.stdin.resume()
}

try {
  await start(opts)
  if (opts.once) await teardown(0, '--once')
  // Stay alive until a signal or a failure: the ppid poll is unref'd.
  setInterval(() => {}, 1 << 30)
} catch (e) {
  log(`startup failed after ${ms()}: ${e.stack ?? e}`)
  dumpServerLog()
  await teardown(1)
}
