// The params differential: raw query strings for every query of the given lexicons, each sent
// to a real @atproto/xrpc-server on 127.0.0.1 (both of its params paths: `method()`, which
// decodes with decodeQueryParams and validates with @atproto/lexicon, and `add()`, which runs
// lex-schema's fromURLSearchParams) and given to ours (paramsdiff-driver: the server's own
// SplitTarget and ParseQueryString, then the generated params parser). Compares the verdicts,
// and the decoded values where both accept. Fails on any difference that
// paramsdiff-allowlist.json does not document, and on any entry there that no case needs.
//
// Usage: node paramsdiff.mjs DRIVER LEXICON_DIR... [--dump FILE]
// Deterministic: no randomness, every list in a fixed order.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { l } from '@atproto/lex-schema'
import { createServer } from '@atproto/xrpc-server'

import { FORMAT_EXAMPLE, jsonFiles, loadVectors, parseArgs } from './diff-common.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const { driver, inputs, dumpFile } = parseArgs(process.argv)
const started = Date.now()
const REQUEST_TIMEOUT_MS = 5000
const IN_FLIGHT = 16
// The whole run is bounded: a server that stops answering ends it, not CTest's timeout.
setTimeout(() => {
  console.error('paramsdiff: gave up after 100 s')
  process.exit(2)
}, 100_000).unref()

// ---------------------------------------------------------------------------------------------
// Lexicons

const docs = inputs.flatMap(jsonFiles).map((f) => JSON.parse(readFileSync(f, 'utf8')))
const queries = docs
  .filter((d) => d.defs?.main?.type === 'query' && d.defs.main.parameters)
  .map((d) => ({ nsid: d.id, params: d.defs.main.parameters }))
  .sort((a, b) => (a.nsid < b.nsid ? -1 : 1))

// The lex-schema params of a lexicon, as @atproto/lex-builder 0.1.16 writes them
// (lex-def-builder.js: compileParamsSchema, compilePropertyEntrySchema, compile*Schema); the
// reference's add() takes generated schemas, never lexicon documents.
function pick(def, keys) {
  const out = Object.fromEntries(Object.entries(def).filter(([k]) => keys.includes(k)))
  return Object.keys(out).length ? out : undefined
}
const withDefault = (schema, value) => (value === undefined ? schema : l.withDefault(schema, value))
function constOrEnum(def) {
  if (def.const != null) {
    if (def.enum != null && !def.enum.includes(def.const)) return l.never()
    return withDefault(l.literal(def.const), def.default)
  }
  if (def.enum.length === 0) return l.never()
  const schema = def.enum.length === 1 ? l.literal(def.enum[0]) : l.enum(def.enum)
  return withDefault(schema, def.default)
}
function lexSchemaOf(def) {
  switch (def.type) {
    case 'boolean':
      return def.const != null ? constOrEnum(def) : withDefault(l.boolean(), def.default)
    case 'integer':
      if (def.const != null || def.enum != null) return constOrEnum(def)
      return withDefault(l.integer(pick(def, ['maximum', 'minimum'])), def.default)
    case 'string': {
      if (def.const != null || def.enum != null) return constOrEnum(def)
      const keys = ['format', 'maxGraphemes', 'minGraphemes', 'maxLength', 'minLength']
      return withDefault(l.string(pick(def, keys)), def.default)
    }
    case 'array':
      return l.array(lexSchemaOf(def.items), pick(def, ['minLength', 'maxLength']))
    default:
      throw new Error(`not a params type: ${def.type}`)
  }
}
function lexSchemaParams(params) {
  const shape = {}
  for (const [key, def] of Object.entries(params.properties ?? {})) {
    const schema = lexSchemaOf(def)
    shape[key] = params.required?.includes(key) ? schema : l.optional(schema)
  }
  return l.params(shape)
}

// ---------------------------------------------------------------------------------------------
// Values

// Percent-encodes UTF-8 bytes as our lex::AppendPercentEncoded does (unreserved kept), so
// decoded values of both sides compare as bytes, whatever they hold.
function enc(text) {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
  let out = ''
  for (const b of bytes) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}
function show(encoded) {
  try {
    return JSON.stringify(decodeURIComponent(encoded))
  } catch {
    return encoded // bytes that are not UTF-8: shown encoded
  }
}

const graphemes = (s) => [...new Intl.Segmenter().segment(s)].length
const fitsString = (n, s) =>
  Buffer.byteLength(s) <= (n.maxLength ?? Infinity) &&
  Buffer.byteLength(s) >= (n.minLength ?? 0) &&
  graphemes(s) >= (n.minGraphemes ?? 0) &&
  graphemes(s) <= (n.maxGraphemes ?? Infinity)

// A valid value of a scalar, as text.
function validText(n) {
  if (n.const !== undefined) return String(n.const)
  if (n.enum) return String(n.enum[0])
  if (n.default !== undefined) return String(n.default)
  switch (n.type) {
    case 'boolean':
      return 'true'
    case 'integer':
      return String(Math.min(Math.max(1, n.minimum ?? -Infinity), n.maximum ?? Infinity))
    default:
      if (n.format) return FORMAT_EXAMPLE[n.format] ?? 'x'
      if (n.knownValues?.length && fitsString(n, n.knownValues[0])) return n.knownValues[0]
      return 'a'.repeat(Math.max(n.minLength ?? 0, n.minGraphemes ?? 0, 1))
  }
}

// Strings of exactly `bytes` UTF-8 bytes (euro signs, padded with 'a') and of `count`
// graphemes (the largest of a flag, a euro sign and 'a' that keeps within the byte bounds),
// to put the byte and grapheme bounds in the query.
const EURO = '\u20AC'
const FLAG = '\u{1F1E9}\u{1F1EA}'
const ofBytes = (bytes) => EURO.repeat(Math.floor(bytes / 3)) + 'a'.repeat(bytes % 3)
function ofGraphemes(count, n) {
  const fits = ([, size]) =>
    count * size <= (n.maxLength ?? Infinity) && count * size >= (n.minLength ?? 0)
  const [unit] = [[FLAG, 8], [EURO, 3], ['a', 1]].find(fits) ?? ['a']
  return unit.repeat(count)
}

// Decoding variants of every scalar, as raw query text (placed in the query verbatim).
const INTEGER_TEXTS = [
  ['int-plus-raw', '+1'], // '+' is a space: " 1"
  ['int-plus', '%2B1'],
  ['int-minus-zero', '-0'],
  ['int-leading-zero', '01'],
  ['int-exponent', '1e3'],
  ['int-decimal', '1.0'],
  ['int-space-before', '%201'],
  ['int-space-after', '1%20'],
  ['int-hex', '0x10'],
  ['int-comma', '1,2'],
  ['int-encoded-digit', '%31'],
  ['int-fullwidth-digit', '%EF%BC%91'],
  ['int-letters', 'abc'],
  ['int-minus-only', '-'],
  ['int-double-minus', '--1'],
  ['int-2^53-1', '9007199254740991'],
  ['int-2^53', '9007199254740992'],
  ['int-2^53+1', '9007199254740993'],
  ['int--(2^53-1)', '-9007199254740991'],
  ['int--(2^53+1)', '-9007199254740993'],
  ['int-int64-max', '9223372036854775807'],
  ['int-int64-max+1', '9223372036854775808'],
  ['int-int64-min', '-9223372036854775808'],
  ['int-int64-min-1', '-9223372036854775809'],
  ['int-30-digits', '1' + '0'.repeat(30)],
]
const BOOLEAN_TEXTS = [
  ['bool-true', 'true'],
  ['bool-false', 'false'],
  ['bool-1', '1'],
  ['bool-0', '0'],
  ['bool-upper', 'TRUE'],
  ['bool-capital', 'True'],
  ['bool-yes', 'yes'],
  ['bool-encoded', '%74rue'],
  ['bool-space-after', 'true%20'],
]
const STRING_TEXTS = [
  ['str-utf8-3', '%E2%82%AC'],
  ['str-utf8-4', '%F0%9F%98%80'],
  ['str-utf8-lower-hex', '%e2%82%ac'],
  ['str-bad-escape', '%zz'],
  ['str-bad-escape-short', 'a%2'],
  ['str-lone-percent', '%'],
  ['str-utf8-truncated', '%E2%82'],
  ['str-utf8-truncated-then-ascii', '%E2%82A'],
  ['str-utf8-overlong', '%C0%AF'],
  ['str-utf8-surrogate', '%ED%A0%80'],
  ['str-utf8-beyond-10ffff', '%F4%90%80%80'],
  ['str-utf8-ff', '%FF'],
  ['str-utf8-bom', '%EF%BB%BFa'],
  ['str-plus', 'a+b'],
  ['str-plus-encoded', 'a%2Bb'],
  ['str-nul', 'a%00b'],
  ['str-equals', 'a=b'],
  ['str-ampersand-encoded', 'a%26b'],
  ['str-space-encoded', 'a%20b'],
]

// ---------------------------------------------------------------------------------------------
// Cases

const cases = []
const seen = new Set() // each variant once per property shape (its def and whether required)
const vectors = loadVectors(join(here, '../data/interop/syntax'))
const vectorsRun = new Set()


function addMethodCases(q) {
  const props = Object.entries(q.params.properties ?? {})
  const required = new Set(q.params.required ?? [])
  const pair = (key, text) => `${enc(key)}=${enc(text)}`
  const validPairs = (key, n) =>
    n.type === 'array' ? [pair(key, validText(n.items))] : [pair(key, validText(n))]
  const base = props.filter(([k]) => required.has(k)).flatMap(([k, n]) => validPairs(k, n))
  const all = props.flatMap(([k, n]) => validPairs(k, n))
  const add = (m, site, pairs, x) =>
    cases.push({ nsid: q.nsid, m, site, query: pairs.join('&'), x })
  // `key`'s pairs replaced by `raw` (whole "k=v" items), the rest of the valid base kept.
  const at = (key, raw) => [...base.filter((p) => !p.startsWith(enc(key) + '=')), ...raw]

  add('base', q.nsid, base)
  add('base-all', q.nsid, all)
  cases.push({ nsid: q.nsid, m: 'no-query', site: q.nsid, query: null })
  add('empty-query', q.nsid, [])
  add('unknown-param', q.nsid, [...base, 'paramsdiffUnknown=x'])
  add('unknown-param-empty', q.nsid, [...base, 'paramsdiffUnknown='])
  add('empty-pairs', q.nsid, ['', ...base, '', ''])
  // Names that mean something to a JavaScript object.
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    add(`js-name-${name}`, q.nsid, [...base, `${name}=x`])
  }
  if (base.length > 1) add('semicolons', q.nsid, [base.join(';')])
  const site = (key) => `${q.nsid}?${key}`
  for (const [key, n] of props) {
    const isRequired = required.has(key)
    const shape = JSON.stringify({ ...n, description: undefined, isRequired })
    const once = (m, raw, x) => {
      if (seen.has(`${shape} ${m}`)) return
      seen.add(`${shape} ${m}`)
      add(m, site(key), at(key, raw), x)
    }
    const k = enc(key)
    if (isRequired) once('param-missing', [])
    once('param-empty', [`${k}=`])
    once('param-no-equals', [k])
    once('param-empty-then-valid', [`${k}=`, ...validPairs(key, n)])
    const withKey = (spelled) => validPairs(key, n).map((p) => p.replace(/^[^=]*/, spelled))
    once('key-percent-encoded', withKey(encodeAll(key)))
    once('key-upper-case', withKey(enc(key.toUpperCase())))
    if (n.type === 'array') {
      arrayCases(key, n, once)
    } else {
      once('repeated-scalar', [...validPairs(key, n), ...validPairs(key, n)])
      scalarCases(k, n, once, '')
    }
  }
}

// Every byte of `s` percent-encoded, letters too.
const encodeAll = (s) =>
  [...Buffer.from(s, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase()).join('')

// Variants of one scalar param; `keep` are pairs that go along (other elements of an array).
function scalarCases(k, n, once, prefix, keep = []) {
  const put = (m, raw, x) => once(prefix + m, [...keep, `${k}=${raw}`], x)
  switch (n.type) {
    case 'integer': {
      for (const [m, raw] of INTEGER_TEXTS) put(m, raw)
      const num = (m, v) => put(m, String(v))
      if (n.minimum !== undefined) {
        num('int-minimum', n.minimum)
        num('int-minimum-1', n.minimum - 1)
      }
      if (n.maximum !== undefined) {
        num('int-maximum', n.maximum)
        num('int-maximum+1', n.maximum + 1)
      }
      if (n.enum) {
        n.enum.forEach((v, i) => num(`int-enum-${i}`, v))
        num('int-not-enum', Math.max(...n.enum) + 1)
      }
      if (n.const !== undefined) {
        num('int-const', n.const)
        num('int-const+1', n.const + 1)
      }
      if (n.default !== undefined) num('int-default', n.default)
      break
    }
    case 'boolean':
      for (const [m, raw] of BOOLEAN_TEXTS) put(m, raw)
      if (n.const !== undefined) put('bool-not-const', String(!n.const))
      break
    case 'string': {
      for (const [m, raw] of STRING_TEXTS) put(m, raw)
      const str = (m, s) => put(m, enc(s), s)
      if (n.const !== undefined) {
        str('str-const', n.const)
        str('str-not-const', n.const + 'x')
      }
      if (n.enum) {
        n.enum.forEach((v, i) => str(`str-enum-${i}`, v))
        str('str-not-enum', 'paramsdiff-not-in-enum')
        str('str-enum-upper-case', n.enum[0].toUpperCase())
      }
      if (n.knownValues) {
        n.knownValues.forEach((v, i) => str(`str-known-${i}`, v))
        str('str-not-known', 'paramsdiff-not-known')
      }
      if (n.default !== undefined) str('str-default', n.default)
      if (n.maxLength !== undefined) {
        str('str-maxLength', ofBytes(n.maxLength))
        str('str-maxLength+1', ofBytes(n.maxLength + 1))
        // Two bytes that are not UTF-8 count as one U+FFFD (3 bytes) once decoded.
        if (n.maxLength >= 2) put('str-maxLength-bad-utf8', 'a'.repeat(n.maxLength - 2) + '%E2%82')
      }
      if (n.minLength) {
        str('str-minLength', ofBytes(n.minLength))
        str('str-minLength-1', ofBytes(n.minLength - 1))
      }
      if (n.maxGraphemes !== undefined) {
        str('str-maxGraphemes', ofGraphemes(n.maxGraphemes, n))
        str('str-maxGraphemes+1', ofGraphemes(n.maxGraphemes + 1, n))
      }
      if (n.minGraphemes) {
        str('str-minGraphemes', ofGraphemes(n.minGraphemes, n))
        str('str-minGraphemes-1', ofGraphemes(n.minGraphemes - 1, n))
      }
      if (n.format) {
        str(`format-${n.format}-example`, FORMAT_EXAMPLE[n.format])
        str(`format-${n.format}-space`, 'in valid')
        const plain = n.maxLength === undefined && n.maxGraphemes === undefined && !n.minLength
        if (plain && !vectorsRun.has(n.format) && vectors[n.format]) {
          vectorsRun.add(n.format)
          // Every vector once, at the first plain site of its format.
          vectors[n.format].forEach(({ value, kind }, i) =>
            once(`format-${n.format}-${kind}-${i}`, [...keep, `${k}=${enc(value)}`], value),
          )
        }
      }
      break
    }
  }
}

function arrayCases(key, n, once) {
  const k = enc(key)
  const item = enc(validText(n.items))
  once('array-one', [`${k}=${item}`])
  once('array-two', [`${k}=${item}`, `${k}=${item}`])
  once('array-brackets', [`${k}[]=${item}`])
  once('array-brackets-encoded', [`${k}%5B%5D=${item}`])
  once('array-brackets-two', [`${k}[]=${item}`, `${k}[]=${item}`])
  once('array-index', [`${k}[0]=${item}`])
  once('array-comma', [`${k}=${item},${item}`])
  once('array-empty-element', [`${k}=${item}`, `${k}=`])
  if (n.minLength) {
    once('array-minLength', Array(n.minLength).fill(`${k}=${item}`))
    once('array-minLength-1', Array(n.minLength - 1).fill(`${k}=${item}`))
  }
  if (n.maxLength !== undefined) {
    once('array-maxLength', Array(n.maxLength).fill(`${k}=${item}`))
    once('array-maxLength+1', Array(n.maxLength + 1).fill(`${k}=${item}`))
  }
  // Each scalar variant as the second element, after a valid one.
  scalarCases(k, n.items, once, 'array-item-', [`${k}=${item}`])
}

for (const q of queries) addMethodCases(q)
const made = Date.now()

// ---------------------------------------------------------------------------------------------
// The reference: one @atproto/xrpc-server per params path, each echoing the params it decoded.

const echo = ({ params }) => ({ encoding: 'application/json', body: { params } })
const viaMethod = createServer(docs, { validateResponse: false })
const viaAdd = createServer([], { validateResponse: false })
for (const q of queries) {
  viaMethod.method(q.nsid, echo)
  const output = l.payload('application/json', undefined)
  viaAdd.add(l.query(q.nsid, lexSchemaParams(q.params), output), echo)
}
// On 127.0.0.1 only: Server.listen(port) is express's app.listen(port), which binds every
// interface.
const listening = (server) =>
  new Promise((resolve, reject) => {
    const s = server.router.listen(0, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })
const paths = [
  { name: 'method', server: await listening(viaMethod) },
  { name: 'add', server: await listening(viaAdd) },
]
const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT })

const target = (c) => `/xrpc/${c.nsid}` + (c.query === null ? '' : `?${c.query}`)
function ask(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks = []
      res.on('data', (d) => chunks.push(d))
      res.on('end', () =>
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }),
      )
    })
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer for ${path}`)))
    req.on('error', reject)
  })
}
// Declared params only, each as its list of encoded texts (an array's elements in order).
const declared = new Map(queries.map((q) => [q.nsid, Object.keys(q.params.properties ?? {})]))
function referenceValues(c, params) {
  const out = {}
  for (const key of declared.get(c.nsid)) {
    if (!Object.hasOwn(params, key) || params[key] === undefined) continue
    const v = params[key]
    out[enc(key)] = (Array.isArray(v) ? v : [v]).map((x) => enc(String(x)))
  }
  return out
}
const jobs = []
for (const c of cases) {
  for (const p of paths) jobs.push({ c, p })
}
let next = 0
async function worker() {
  while (next < jobs.length) {
    const { c, p } = jobs[next++]
    const { status, body } = await ask(p.server.address().port, target(c))
    const json = JSON.parse(body)
    c[p.name] =
      status === 200
        ? { ok: true, values: referenceValues(c, json.params) }
        : { ok: false, error: `${status} ${json.error}: ${json.message}` }
  }
}
await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
agent.destroy()
for (const p of paths) p.server.close()
const referenceAt = Date.now()

// ---------------------------------------------------------------------------------------------
// Ours

const input = cases.map((c) => JSON.stringify({ s: c.nsid, t: target(c) })).join('\n') + '\n'
const run = spawnSync(driver, [], { input, maxBuffer: 1 << 30, encoding: 'utf8' })
if (run.status !== 0) {
  console.error(`paramsdiff-driver failed (${run.status}): ${run.stderr}`)
  process.exit(2)
}
const answers = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line))
if (answers.length !== cases.length) {
  console.error(`paramsdiff-driver answered ${answers.length} of ${cases.length} cases`)
  process.exit(2)
}
cases.forEach((c, i) => {
  const { e, v } = answers[i]
  const values = {}
  for (const [key, text] of v) (values[key] ??= []).push(text)
  c.ours = e === '' ? { ok: true, values } : { ok: false, error: e }
})
const oursAt = Date.now()

// ---------------------------------------------------------------------------------------------
// Comparing

const allowlist = JSON.parse(readFileSync(join(here, 'paramsdiff-allowlist.json'), 'utf8'))
const used = new Map(allowlist.map((a) => [a, 0]))
const patternsUsed = new Set() // "entry index: pattern" of each mutation pattern that matched
const verdict = (side) => (side.ok ? 'accepted' : 'refused')
const sameValues = (a, b) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
const sortKeys = (o) => Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : 1)))
const matches = (pattern, m) =>
  pattern === m || (pattern.endsWith('*') && m.startsWith(pattern.slice(0, -1)))
// What differs: the verdict ("accepted/refused"), or "values" when both accept.
function difference(c, path) {
  const ref = c[path]
  if (ref.ok !== c.ours.ok) return `${verdict(ref)}/${verdict(c.ours)}`
  if (ref.ok && !sameValues(ref.values, c.ours.values)) return 'values'
  return null
}
const documented = (c, path, diff) =>
  allowlist.find(
    (a) =>
      (a.path === path || a.path === '*') &&
      a.mutations.some((m) => matches(m, c.m)) &&
      a.difference === diff &&
      (!a.reference_message || c[path].error?.includes(a.reference_message)),
  )
const failures = []
let documentedCount = 0
const agreements = { accepted: 0, refused: 0 }
for (const c of cases) {
  for (const { name } of paths) {
    const diff = difference(c, name)
    if (diff === null) {
      agreements[verdict(c.ours)]++
      continue
    }
    const entry = documented(c, name, diff)
    if (entry) {
      used.set(entry, used.get(entry) + 1)
      const pattern = entry.mutations.find((m) => matches(m, c.m))
      patternsUsed.add(`${allowlist.indexOf(entry)}: ${pattern}`)
      documentedCount++
    } else {
      failures.push({ c, path: name, diff })
    }
  }
}

const seconds = (ms) => (ms / 1000).toFixed(1)
const describe = (side) =>
  side.ok
    ? 'accepted ' +
      Object.entries(sortKeys(side.values))
        .map(([k, v]) => `${show(k)}=[${v.map(show).join(', ')}]`)
        .join(' ')
    : `refused (${side.error})`
console.log(
  `paramsdiff: ${cases.length} query strings over ${queries.length} queries, ` +
    `${cases.length * paths.length} reference answers (server.method and server.add); ` +
    `made in ${seconds(made - started)} s, reference ${seconds(referenceAt - made)} s, ` +
    `ours ${seconds(oursAt - referenceAt)} s`,
)
console.log(
  `paramsdiff: agree on ${agreements.accepted} accepted (values equal) and ` +
    `${agreements.refused} refused; ${documentedCount} documented differences, ` +
    `${failures.length} undocumented`,
)
for (const [entry, count] of used) {
  const more = entry.mutations.length > 1 ? ` (+${entry.mutations.length - 1} more)` : ''
  const what = `server.${entry.path} ${entry.mutations[0]}${more}, ${entry.difference}`
  console.log(`  documented: ${what}: ${count}`)
}
const stale = [...used].filter(([, count]) => count === 0).map(([e]) => e)
for (const e of stale) console.log(`STALE allowlist entry, no case needs it: ${JSON.stringify(e)}`)
// A mutation listed in a needed entry that no case of that entry needs is stale too.
const stalePatterns = allowlist.flatMap((e, i) =>
  used.get(e) === 0 ? [] : e.mutations.filter((m) => !patternsUsed.has(`${i}: ${m}`)),
)
for (const m of stalePatterns) console.log(`STALE allowlist mutation, no case needs it: ${m}`)
for (const { c, path, diff } of failures.slice(0, 200)) {
  console.log(
    `DIFFERS (${diff}) server.${path}: ${c.nsid} [${c.m}] at ${c.site}\n  ${target(c)}\n` +
      `  reference: ${describe(c[path])}\n  ours:      ${describe(c.ours)}`,
  )
}
if (dumpFile) writeFileSync(dumpFile, cases.map((c) => JSON.stringify(c)).join('\n') + '\n')
const ok = failures.length === 0 && stale.length === 0 && stalePatterns.length === 0
console.log(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`)
process.exit(ok ? 0 : 1)
