// The lexicon differential: data cases for every record, object def and method part of the
// given lexicons (valid values, then one mutation per constraint), each judged by the official
// validator (@atproto/lexicon, as the reference's servers call it) and by ours (lexdiff-driver:
// the schema interpreter behind `lexgen validate`, and the generated parsers). Fails on any
// disagreement that lexdiff-allowlist.json does not document, and on any entry there that no
// case needs any more.
//
// Usage: node lexdiff.mjs DRIVER LEXICON_DIR... [--dump FILE]
// Deterministic: no randomness, every list in a fixed order.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lexicons, jsonToLex } from '@atproto/lexicon'

import { CID_CBOR, FORMAT_EXAMPLE, jsonFiles, loadVectors, parseArgs } from './diff-common.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const { driver, inputs, dumpFile } = parseArgs(process.argv)
const started = Date.now()

// ---------------------------------------------------------------------------------------------
// Lexicons

const texts = inputs.flatMap(jsonFiles).map((f) => readFileSync(f, 'utf8'))
const docs = new Map(texts.map((t) => JSON.parse(t)).map((d) => [d.id, d]))
const reference = new Lexicons(texts.map((t) => JSON.parse(t))) // it rewrites what it is given

// "nsid#name" for a ref written in document `docId`; a main def is "nsid".
function refUri(ref, docId) {
  const full = ref.startsWith('#') ? docId + ref : ref
  return full.endsWith('#main') ? full.slice(0, -5) : full
}
function resolve(uri) {
  const [nsid, name = 'main'] = uri.split('#')
  const def = docs.get(nsid)?.defs?.[name]
  return def ? { def, docId: nsid, uri } : null
}

// ---------------------------------------------------------------------------------------------
// Values

const NONE = Symbol('none') // no valid value can be made (a required cycle, a token)
const CID_RAW = 'bafkreia7hvfvix4q2kertfwk6puc2uiwnpbdmvwdl27c7linmdls2jg62q'
const UNKNOWN_TYPE = 'com.example.lexdiff.unknown#thing'
const clone = (v) => structuredClone(v)
const b64 = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i + 1)).toString('base64')
const unpadded = (s) => s.replace(/=+$/, '')

// Grapheme units, multi-byte and multi-code-point first: [text, UTF-8 bytes].
const UNITS = [
  ['\u{1F469}\u200D\u{1F469}\u200D\u{1F466}\u200D\u{1F466}', 25], // family: 7 code points
  ['\u{1F1E9}\u{1F1EA}', 8], // flag: two regional indicators
  ['e\u0301', 3], // e + combining acute
  ['\u20AC', 3], // euro sign: one code point, three bytes
  ['a', 1],
]
// A string of exactly `bytes` UTF-8 bytes whose grapheme count lies in [minG, maxG], built from
// the largest unit that allows it, padded with 'a'.
function ofBytes(bytes, minG = 0, maxG = Infinity) {
  for (const [unit, size] of UNITS) {
    const n = Math.floor(bytes / size)
    const g = n + (bytes - n * size)
    if (g >= minG && g <= maxG) return unit.repeat(n) + 'a'.repeat(bytes - n * size)
  }
  return 'a'.repeat(bytes)
}
// `count` graphemes of the largest multi-code-point unit that keeps within maxBytes.
function ofGraphemes(count, minBytes = 0, maxBytes = Infinity) {
  for (const [unit, size] of UNITS) {
    if (count * size <= maxBytes && count * size >= minBytes) return unit.repeat(count)
  }
  return 'a'.repeat(count)
}

function tokenValue(v, docId) {
  return v.startsWith('#') ? docId + v : v
}

function stringValue(n, docId) {
  if (n.const !== undefined) return n.const
  if (n.enum) return n.enum[0]
  if (n.default !== undefined) return n.default
  if (n.format) return FORMAT_EXAMPLE[n.format] ?? 'x'
  const known = n.knownValues?.map((v) => tokenValue(v, docId))
  const fits = (s) =>
    Buffer.byteLength(s) <= (n.maxLength ?? Infinity) &&
    Buffer.byteLength(s) >= (n.minLength ?? 0) &&
    [...new Intl.Segmenter().segment(s)].length >= (n.minGraphemes ?? 0) &&
    [...new Intl.Segmenter().segment(s)].length <= (n.maxGraphemes ?? Infinity)
  if (known?.length && fits(known[0])) return known[0]
  return 'a'.repeat(Math.max(n.minLength ?? 0, n.minGraphemes ?? 0, 1))
}

function integerValue(n) {
  if (n.const !== undefined) return n.const
  if (n.enum) return n.enum[0]
  if (n.default !== undefined) return n.default
  return Math.min(Math.max(1, n.minimum ?? -Infinity), n.maximum ?? Infinity)
}

function mimeFor(accept) {
  const p = accept?.[0]
  if (!p || p === '*/*') return 'application/octet-stream'
  return p.endsWith('/*') ? p.slice(0, -1) + 'x-lexdiff' : p
}
function blobValue(n, cid = CID_RAW) {
  const size = Math.min(n.maxSize ?? 1000, 1000)
  return { $type: 'blob', ref: { $link: cid }, mimeType: mimeFor(n.accept), size }
}

// The object a union member's data follows: an object def, or a record's body.
function memberDef(target) {
  if (target?.def.type === 'object') return target.def
  if (target?.def.type === 'record') return target.def.record
  return null
}

// A valid value for `n` (written in document docId). With `walk`, the object's own properties
// are all present (optional ones too) and each place is reported to `walk.point`; values behind
// refs are minimal (required properties only), as each def is a target of its own.
function valueOf(n, docId, stack, walk, path = [], site = '') {
  switch (n.type) {
    case 'boolean':
      return n.const ?? n.default ?? true
    case 'integer':
      return integerValue(n)
    case 'string':
      return stringValue(n, docId)
    case 'bytes':
      return { $bytes: unpadded(b64(Math.min(Math.max(n.minLength ?? 0, 1), n.maxLength ?? 4))) }
    case 'cid-link':
      return { $link: CID_CBOR }
    case 'blob':
      return blobValue(n)
    case 'unknown':
      return { lexdiffKey: 'value' }
    case 'array': {
      const count = Math.min(Math.max(n.minLength ?? 0, 1), n.maxLength ?? 1)
      const item = valueOf(n.items, docId, stack, walk, [...path, 0], site + '/items')
      if (item === NONE) return count === 0 || (n.minLength ?? 0) === 0 ? [] : NONE
      if (walk) walk.point(path.concat(0), n.items, docId, site + '/items', { in: 'array' })
      return Array.from({ length: count }, () => clone(item))
    }
    case 'object':
    case 'params': {
      const out = {}
      for (const [key, prop] of Object.entries(n.properties ?? {})) {
        const required = n.required?.includes(key) ?? false
        const nullable = n.nullable?.includes(key) ?? false
        if (!walk && !required) continue
        const v = valueOf(prop, docId, stack, walk, [...path, key], `${site}/${key}`)
        if (v === NONE) {
          if (nullable) out[key] = null
          else if (required) return NONE
          continue
        }
        out[key] = v
        if (walk) {
          walk.point([...path, key], prop, docId, `${site}/${key}`, {
            in: n.type,
            required,
            nullable,
          })
        }
      }
      return out
    }
    case 'ref': {
      const uri = refUri(n.ref, docId)
      const target = resolve(uri)
      if (!target || stack.includes(uri)) return NONE
      if (target.def.type === 'token') return NONE
      if (target.def.type !== 'record') return valueOf(target.def, target.docId, [...stack, uri], null)
      // A record behind a ref carries its $type, as records do everywhere.
      const body = valueOf(target.def.record, target.docId, [...stack, uri], null)
      return body === NONE ? NONE : { $type: uri, ...body }
    }
    case 'union': {
      for (const ref of n.refs ?? []) {
        const uri = refUri(ref, docId)
        const target = resolve(uri)
        const def = memberDef(target)
        if (!def || stack.includes(uri)) continue
        const v = valueOf(def, target.docId, [...stack, uri], null)
        if (v !== NONE) return { $type: uri, ...v }
      }
      return n.closed ? NONE : { $type: UNKNOWN_TYPE }
    }
    default:
      return NONE
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

const cases = []
const skipped = [] // targets for which no valid value could be made
const seen = new Set() // site + mutation: each constraint is varied once, where first met
const vectors = loadVectors(join(here, '../data/interop/syntax'))
const vectorsRun = new Set() // formats whose whole vector set has run


function setAt(root, path, fn) {
  const v = clone(root)
  if (path.length === 0) return fn(v, undefined, undefined)
  let parent = v
  for (const k of path.slice(0, -1)) parent = parent[k]
  fn(parent[path.at(-1)], parent, path.at(-1))
  return v
}
const replaceAt = (root, path, value) =>
  path.length === 0 ? value : setAt(root, path, (_, p, k) => (p[k] = value))
const deleteAt = (root, path) => setAt(root, path, (_, p, k) => delete p[k])
const editAt = (root, path, fn) => setAt(root, path, (v) => fn(v))

function makeTarget(schema, part) {
  const add = (m, v, site = '', x = undefined) => cases.push({ s: schema, p: part, m, site, v, x })
  return { add }
}

// Mutations of one place in a valid value; `ctx.in` says what holds it.
function mutate(t, base, path, n, docId, site, ctx) {
  const once = (m, make) => {
    const key = `${site} ${m}`
    if (seen.has(key)) return
    seen.add(key)
    const v = make()
    if (v !== NONE) t.add(m, v, site)
  }
  const at = (value) => replaceAt(base, path, value)
  if (ctx.in === 'object' || ctx.in === 'params') {
    if (ctx.required || n.default !== undefined) once('prop-missing', () => deleteAt(base, path))
    once('prop-null', () => at(null))
  }
  if (ctx.in === 'array') once('array-null-item', () => at(null))
  const named = n.type === 'ref' ? resolve(refUri(n.ref, docId))?.def : null
  const wrong = { string: 42, integer: '1', boolean: 'true' }[named?.type ?? n.type] ?? 'x'
  once('wrong-type', () => at(wrong))
  const str = (m, s) => once(m, () => at(s))
  switch (n.type) {
    case 'boolean':
      if (n.const !== undefined) str('bool-const', !n.const)
      break
    case 'integer': {
      if (n.minimum !== undefined) {
        str('int-minimum', n.minimum)
        str('int-minimum-1', n.minimum - 1)
      }
      if (n.maximum !== undefined) {
        str('int-maximum', n.maximum)
        str('int-maximum+1', n.maximum + 1)
      }
      if (n.enum) str('int-not-enum', Math.max(...n.enum) + 1)
      if (n.const !== undefined) str('int-const+1', n.const + 1)
      str('int-float', integerValue(n) + 0.5)
      if (n.maximum === undefined && n.enum === undefined && n.const === undefined) {
        str('int-beyond-int64', 1e300)
        str('int-beyond-safe', 2 ** 53 + 2)
      }
      break
    }
    case 'string': {
      if (n.const !== undefined) str('str-not-const', n.const + 'x')
      if (n.enum) str('str-not-enum', 'lexdiff-not-in-enum')
      if (n.knownValues) str('str-not-known', 'lexdiff-not-known')
      if (n.format) formatCases(t, base, path, n, site, once)
      if (n.format || n.enum || n.const !== undefined) break
      const minG = n.minGraphemes ?? 0
      const maxG = n.maxGraphemes ?? Infinity
      const minB = n.minLength ?? 0
      const maxB = n.maxLength ?? Infinity
      if (n.maxLength !== undefined) {
        str('str-maxLength', ofBytes(n.maxLength, minG, maxG))
        str('str-maxLength+1', ofBytes(n.maxLength + 1, minG, maxG))
      }
      if (n.minLength) {
        str('str-minLength', ofBytes(n.minLength, minG, maxG))
        str('str-minLength-1', ofBytes(n.minLength - 1, 0, maxG))
      }
      if (n.maxGraphemes !== undefined) {
        str('str-maxGraphemes', ofGraphemes(n.maxGraphemes, minB, maxB))
        str('str-maxGraphemes+1', ofGraphemes(n.maxGraphemes + 1, minB, maxB))
        graphemeCases(n, once, at)
      }
      if (n.minGraphemes) {
        str('str-minGraphemes', ofGraphemes(n.minGraphemes, minB, maxB))
        str('str-minGraphemes-1', ofGraphemes(n.minGraphemes - 1, 0, maxB))
      }
      break
    }
    case 'bytes': {
      const b = (m, count) => str(m, { $bytes: unpadded(b64(count)) })
      if (n.minLength) {
        b('bytes-minLength', n.minLength)
        b('bytes-minLength-1', n.minLength - 1)
      }
      if (n.maxLength !== undefined) {
        b('bytes-maxLength', n.maxLength)
        b('bytes-maxLength+1', n.maxLength + 1)
      }
      str('bytes-padded', { $bytes: b64(Math.min(Math.max(n.minLength ?? 1, 1), n.maxLength ?? 1)) })
      str('bytes-bad-base64', { $bytes: '!!!' })
      str('bytes-extra-key', { $bytes: 'AQ', x: 1 })
      str('bytes-not-string', { $bytes: 1 })
      str('bytes-trailing-bits', { $bytes: 'AR' }) // one byte; the unused bits are not zero
      str('bytes-base64url', { $bytes: '-_8' }) // the URL-safe alphabet
      break
    }
    case 'cid-link':
      str('link-raw-codec', { $link: CID_RAW })
      str('link-cidv0', { $link: 'QmQ2r6iMNpky5f1m4cnm3Yqw8VSvjuKpTcK1X7dBR1LkJF' })
      str('link-bad', { $link: '.' })
      str('link-extra-key', { $link: CID_CBOR, x: 1 })
      str('link-not-string', { $link: 1 })
      str('link-base32-upper', { $link: CID_CBOR.toUpperCase() })
      str('link-base58btc', { $link: 'zdpuApzMZZNiddGHf6DnvUbCn1hgaF5oVJkTjTVQrm6UBHaMQ' })
      break
    case 'blob': {
      const ok = blobValue(n)
      str('blob-cbor-ref', blobValue(n, CID_CBOR))
      str('blob-legacy', { cid: CID_RAW, mimeType: ok.mimeType })
      str('blob-no-size', { $type: 'blob', ref: ok.ref, mimeType: ok.mimeType })
      str('blob-size-string', { ...ok, size: '1' })
      str('blob-size-negative', { ...ok, size: -1 })
      str('blob-size-float', { ...ok, size: 1.5 })
      str('blob-size-zero', { ...ok, size: 0 })
      str('blob-mime-empty', { ...ok, mimeType: '' })
      str('blob-mime-no-slash', { ...ok, mimeType: 'png' })
      str('blob-extra-key', { ...ok, x: 1 })
      str('blob-ref-string', { ...ok, ref: CID_RAW })
      str('blob-ref-bad', { ...ok, ref: { $link: '.' } })
      str('blob-type-wrong', { ...ok, $type: 'blobby' })
      if (n.accept && !n.accept.includes('*/*')) {
        str('blob-accept-mismatch', { ...ok, mimeType: 'lexdiff/not-accepted' })
      }
      if (n.maxSize !== undefined) {
        str('blob-maxSize', { ...ok, size: n.maxSize })
        str('blob-maxSize+1', { ...ok, size: n.maxSize + 1 })
      }
      break
    }
    case 'array': {
      const item = valueOf(n.items, docId, [], null)
      if (item === NONE) break
      const arr = (count) => Array.from({ length: count }, () => clone(item))
      if (n.minLength) {
        str('array-minLength', arr(n.minLength))
        str('array-minLength-1', arr(n.minLength - 1))
      }
      if (n.maxLength !== undefined) {
        str('array-maxLength', arr(n.maxLength))
        str('array-maxLength+1', arr(n.maxLength + 1))
      }
      str('array-empty', [])
      break
    }
    case 'object':
      str('object-array', [])
      once('object-extra-field', () => editAt(base, path, (v) => (v.lexdiffExtra = 1)))
      break
    case 'ref': {
      const uri = refUri(n.ref, docId)
      const target = resolve(uri)
      if (target?.def.type !== 'object') break
      str('ref-array', [])
      str('ref-bytes', { $bytes: 'AQ' })
      once('ref-extra-field', () => editAt(base, path, (v) => (v.lexdiffExtra = 1)))
      once('ref-type-other', () => editAt(base, path, (v) => (v.$type = UNKNOWN_TYPE)))
      once('ref-type-self', () => editAt(base, path, (v) => (v.$type = uri)))
      break
    }
    case 'union':
      unionCases(n, docId, base, path, once, at)
      break
    case 'unknown':
      str('unknown-string', 'x')
      str('unknown-array', [])
      str('unknown-bytes', { $bytes: 'AQ' })
      str('unknown-link', { $link: CID_CBOR })
      str('unknown-blob', blobValue({}))
      str('unknown-float', { a: 1.5 })
      str('unknown-typed', { $type: 'com.example.lexdiff.thing', a: 1 })
      str('unknown-type-empty', { $type: '', a: 1 })
      str('unknown-type-number', { $type: 1 })
      str('unknown-nested-bad-link', { a: { $link: '.' } })
      str('unknown-deep', deep(40)) // past the data-validation guide's suggested depth of 32
      break
  }
}

function deep(levels) {
  let v = { leaf: 1 }
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

function unionCases(n, docId, base, path, once, at) {
  const members = []
  for (const ref of n.refs ?? []) {
    const uri = refUri(ref, docId)
    const target = resolve(uri)
    const def = memberDef(target)
    if (!def) continue
    const v = valueOf(def, target.docId, [uri], null)
    if (v !== NONE) members.push({ uri, v, written: ref })
  }
  const edit = (m, fn) => once(m, () => editAt(base, path, fn))
  once('union-not-object', () => at('x'))
  once('union-array', () => at([]))
  edit('union-no-type', (v) => delete v.$type)
  edit('union-type-empty', (v) => (v.$type = ''))
  edit('union-type-number', (v) => (v.$type = 1))
  edit('union-type-unknown', (v) => (v.$type = UNKNOWN_TYPE))
  const outsider = ['com.atproto.repo.strongRef', 'app.bsky.richtext.facet#tag'].find(
    (u) => !members.some((m) => m.uri === u),
  )
  edit('union-type-outside-refs', (v) => (v.$type = outsider))
  if (members.length === 0) return
  const first = members[0]
  for (const m of members) {
    // Every member, in its own spelling; then a main def as "nsid#main", a named one bare.
    once(`union-member ${m.uri}`, () => at({ $type: m.uri, ...clone(m.v) }))
    if (!m.uri.includes('#')) {
      once(`union-member-main-suffix ${m.uri}`, () => at({ $type: m.uri + '#main', ...clone(m.v) }))
    }
  }
  if (members.length > 1) {
    once('union-shape-of-other-member', () => at({ ...clone(members[1].v), $type: first.uri }))
  }
  once('union-member-extra-field', () => at({ $type: first.uri, ...clone(first.v), lexdiffExtra: 1 }))
}

// The grapheme edge: one site gets every unit at its bound and one past it.
let graphemeSiteDone = false
function graphemeCases(n, once, at) {
  // A site whose byte limit leaves room for 25-byte graphemes, so only graphemes count.
  if (graphemeSiteDone || n.maxGraphemes > 100 || n.maxLength < 25 * (n.maxGraphemes + 1)) return
  graphemeSiteDone = true
  const units = [
    ...UNITS.map(([u]) => u),
    '\u{1F3F3}\uFE0F\u200D\u{1F308}', // rainbow flag
    '\u{1F44D}\u{1F3FD}', // thumbs up, skin tone
    '\u1100\u1161\u11A8', // Hangul jamo L V T: one syllable
    '\u0915\u094D\u0937', // Devanagari ka + virama + ssa: one cluster from Unicode 15.1 (GB9c)
    '\r\n',
    '\u0B95\u0BCD\u0BB7', // Tamil conjunct (no GB9c link)
  ]
  units.forEach((u, i) => {
    once(`grapheme-unit-${i}-at-maxGraphemes`, () => at(u.repeat(n.maxGraphemes)))
    once(`grapheme-unit-${i}-past-maxGraphemes`, () => at(u.repeat(n.maxGraphemes + 1)))
  })
}

function formatCases(t, base, path, n, site, once) {
  once(`format-${n.format}-example`, () => replaceAt(base, path, FORMAT_EXAMPLE[n.format]))
  once(`format-${n.format}-space`, () => replaceAt(base, path, 'in valid'))
  const plain = n.maxLength === undefined && n.maxGraphemes === undefined && !n.minLength
  if (!plain || vectorsRun.has(n.format) || !vectors[n.format]) return
  vectorsRun.add(n.format)
  for (const { value, kind } of vectors[n.format]) {
    t.add(`format-${n.format}-${kind}`, replaceAt(base, path, value), site, value)
  }
}

// Targets: every record, object def, and params/input/output/message of a method.
for (const doc of [...docs.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
  for (const [name, def] of Object.entries(doc.defs)) {
    const uri = name === 'main' ? doc.id : `${doc.id}#${name}`
    const parts = []
    if (def.type === 'record') parts.push(['record', def.record])
    if (def.type === 'object') parts.push(['object', def])
    if (['query', 'procedure', 'subscription'].includes(def.type)) {
      if (def.parameters) parts.push(['params', def.parameters])
      if (def.input?.schema) parts.push(['input', def.input.schema])
      if (def.output?.schema) parts.push(['output', def.output.schema])
      if (def.message?.schema) parts.push(['message', def.message.schema])
    }
    for (const [part, node] of parts) addTarget(uri, part, doc.id, node, name)
  }
}

function addTarget(schema, part, docId, node, defName) {
  const t = makeTarget(schema, part)
  const site = `${docId}#${defName}${part === 'object' || part === 'record' ? '' : '/' + part}`
  const points = []
  const walk = { point: (...p) => points.push(p) }
  let base = valueOf(node, docId, [schema], walk, [], site)
  if (base === NONE) {
    skipped.push(`${schema} ${part}`)
    return
  }
  if (part === 'record') base = { $type: schema, ...base }
  const minimal = valueOf(node, docId, [schema], null)
  t.add('base', base, site)
  if (minimal !== NONE) t.add('base-required-only', part === 'record' ? { $type: schema, ...minimal } : minimal, site)
  // The whole value
  if (part !== 'params') {
    t.add('top-string', 'x', site)
    t.add('top-array', [], site)
    t.add('top-extra-field', { ...base, lexdiffExtra: 1 }, site)
    t.add('top-extra-float', { ...base, lexdiffExtra: 1.5 }, site)
    // A "__proto__" key, as JSON.parse makes it: an own property like any other.
    t.add('top-proto-key', { ...base, ...JSON.parse('{"__proto__": {"x": 1}}') }, site)
  }
  if (part === 'record') {
    const { $type, ...body } = base
    t.add('record-no-type', body, site)
    t.add('record-type-other', { ...base, $type: 'com.example.lexdiff.elsewhere' }, site)
    t.add('record-type-main-suffix', { ...base, $type: schema + '#main' }, site)
    t.add('record-type-number', { ...base, $type: 1 }, site)
  }
  if (part === 'params') t.add('params-extra-field', { ...base, lexdiffExtra: 'x' }, site)
  for (const [path, n, doc, psite, ctx] of points) mutate(t, base, path, n, doc, psite, ctx)
  // A body given by ref or union: its own mutations at the top.
  if (node.type === 'union' && ['input', 'output', 'message'].includes(part)) {
    unionCases(node, docId, base, [], (m, make) => {
      const v = make()
      if (v !== NONE) t.add(m, v, site)
    }, (v) => v)
  }
}

// ---------------------------------------------------------------------------------------------
// Judging

// What the reference does with a case: "" accepted, else its error.
function judgeReference({ s, p, v }) {
  try {
    if (p === 'params') {
      reference.assertValidXrpcParams(s, v) // params arrive decoded, never as atproto JSON
      return ''
    }
    const lex = jsonToLex(v)
    if (p === 'record') reference.assertValidRecord(s, lex)
    else if (p === 'object') {
      const res = reference.validate(s, lex)
      if (!res.success) return res.error.message
    } else if (p === 'input') reference.assertValidXrpcInput(s, lex)
    else if (p === 'output') reference.assertValidXrpcOutput(s, lex)
    else if (p === 'message') reference.assertValidXrpcMessage(s, lex)
    return ''
  } catch (e) {
    return e.message || String(e)
  }
}

// Whether a query string can say the same as this params value: scalars of the declared type,
// non-empty strings and arrays (an empty one is the same as none on the wire).
function onTheWire(c) {
  if (c.p !== 'params') return true
  const def = resolve(c.s).def.parameters
  if (c.v === null || typeof c.v !== 'object' || Array.isArray(c.v)) return false
  const fits = (t, x) =>
    (t.type === 'string' && typeof x === 'string' && x !== '') ||
    (t.type === 'integer' && Number.isSafeInteger(x)) ||
    (t.type === 'boolean' && typeof x === 'boolean')
  return Object.entries(c.v).every(([k, x]) => {
    const t = def.properties?.[k]
    if (!t) return typeof x === 'string' && x !== ''
    if (t.type === 'array') return Array.isArray(x) && x.length > 0 && x.every((e) => fits(t.items, e))
    return fits(t, x)
  })
}

const generatedAt = Date.now()
for (const c of cases) c.ref = judgeReference(c)
const referenceAt = Date.now()

const input = cases.map((c) => JSON.stringify({ s: c.s, p: c.p, v: c.v })).join('\n') + '\n'
const run = spawnSync(driver, inputs, { input, maxBuffer: 1 << 30, encoding: 'utf8' })
if (run.status !== 0) {
  console.error(`lexdiff-driver failed (${run.status}): ${run.stderr}`)
  process.exit(2)
}
const answers = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
if (answers.length !== cases.length) {
  console.error(`lexdiff-driver answered ${answers.length} of ${cases.length} cases`)
  process.exit(2)
}
const oursAt = Date.now()

// ---------------------------------------------------------------------------------------------
// Comparing

const allowlist = JSON.parse(readFileSync(join(here, 'lexdiff-allowlist.json'), 'utf8'))
const used = new Map(allowlist.map((a) => [a, 0]))
const verdict = (msg) => (msg === '' ? 'valid' : 'invalid')
const documented = (c, side, ours) =>
  allowlist.find(
    (a) =>
      (a.mutation === c.m || (a.mutation.endsWith('*') && c.m.startsWith(a.mutation.slice(0, -1)))) &&
      a.reference === verdict(c.ref) &&
      a.ours === verdict(ours) &&
      (!a.reference_message || c.ref.includes(a.reference_message)) &&
      (!a.values || a.values.includes(c.x)),
  )
const failures = []
let documentedCount = 0
let compared = 0
let messageDiffers = 0
const messageExamples = []
cases.forEach((c, i) => {
  const { i: interp, g: gen } = answers[i]
  const wire = onTheWire(c)
  const sides = [['interpreter', interp]]
  if (wire && gen !== null) sides.push(['generated', gen])
  if (!wire || gen === null) c.noGenerated = true
  let bad = false
  for (const [side, ours] of sides) {
    compared++
    if (verdict(ours) === verdict(c.ref)) {
      if (ours !== '' && ours !== c.ref && side === 'interpreter') {
        messageDiffers++
        if (messageExamples.length < 5) messageExamples.push({ c, ours })
      }
      continue
    }
    const entry = documented(c, side, ours)
    if (entry) {
      used.set(entry, used.get(entry) + 1)
      documentedCount++
      continue
    }
    bad = true
    failures.push({ c, side, ours })
  }
  if (!bad && interp !== gen && wire && gen !== null && verdict(interp) !== verdict(gen)) {
    failures.push({ c, side: 'interpreter vs generated', ours: `${interp} / ${gen}` })
  }
})

const show = (v) => {
  const s = JSON.stringify(v)
  return s.length > 300 ? s.slice(0, 300) + '...' : s
}
const byTarget = {}
for (const c of cases) byTarget[c.p] = (byTarget[c.p] ?? 0) + 1
const seconds = (ms) => (ms / 1000).toFixed(1)
console.log(
  `lexdiff: ${cases.length} cases (${Object.entries(byTarget)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ')}) over ${new Set(cases.map((c) => c.s + ' ' + c.p)).size} schemas; ` +
    `${cases.filter((c) => c.noGenerated).length} not sent to the generated parsers (params a query string cannot carry)`,
)
console.log(
  `lexdiff: made in ${seconds(generatedAt - started)} s, reference ${seconds(referenceAt - generatedAt)} s, ` +
    `ours ${seconds(oursAt - referenceAt)} s; ${skipped.length} schemas without a valid value: ${skipped.join(', ')}`,
)
console.log(
  `lexdiff: ${compared} verdicts compared, ${documentedCount} documented differences, ` +
    `${failures.length} undocumented; both refuse with another message in ${messageDiffers} cases`,
)
for (const { c, ours } of messageExamples) {
  console.log(`  message: ${c.s} ${c.p} ${c.m}: reference "${c.ref}", ours "${ours}"`)
}
for (const [entry, count] of used) {
  console.log(`  documented: ${entry.mutation} (reference ${entry.reference}, ours ${entry.ours}): ${count}`)
}
const stale = [...used].filter(([, count]) => count === 0).map(([e]) => e)
for (const e of stale) console.log(`STALE allowlist entry, no case needs it: ${JSON.stringify(e)}`)
for (const { c, side, ours } of failures.slice(0, 200)) {
  console.log(
    `DIFFERS ${side}: ${c.s} ${c.p} [${c.m}] at ${c.site}\n  value ${show(c.v)}\n` +
      `  reference: ${c.ref || 'valid'}\n  ours:      ${ours || 'valid'}`,
  )
}
if (dumpFile) writeFileSync(dumpFile, cases.map((c, i) => JSON.stringify({ ...c, ours: answers[i] })).join('\n') + '\n')
const ok = failures.length === 0 && stale.length === 0
console.log(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`)
process.exit(ok ? 0 : 1)
