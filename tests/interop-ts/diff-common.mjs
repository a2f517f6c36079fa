// What the lexicon and params differentials (lexdiff.mjs, paramsdiff.mjs) share: their command
// line, the lexicon files they read, a valid example per string format, and the interop
// syntax vectors.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

// DRIVER LEXICON_DIR... [--dump FILE]
export function parseArgs(argv) {
  const args = argv.slice(2)
  const dumpAt = args.indexOf('--dump')
  const dumpFile = dumpAt >= 0 ? args.splice(dumpAt, 2)[1] : null
  const [driver, ...inputs] = args
  return { driver, inputs, dumpFile }
}

// The .json files under `path` (or `path` itself), in sorted order.
export function jsonFiles(path) {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const p = join(path, name)
      return statSync(p).isDirectory() ? jsonFiles(p) : name.endsWith('.json') ? [p] : []
    })
}

export const CID_CBOR = 'bafyreicd3vm6yuubsufbm5ydz5d4iqe6xksf5cxg7esqfmvjd7nd2vfxqm'
export const FORMAT_EXAMPLE = {
  datetime: '2024-11-20T10:15:30.123Z',
  uri: 'https://example.com/a',
  'at-uri': 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l',
  did: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz',
  handle: 'alice.example.com',
  'at-identifier': 'did:plc:ewvi7nxzyoun6zhxrhs64oiz',
  nsid: 'com.example.fooBar',
  cid: CID_CBOR,
  language: 'en',
  tid: '3l6oveex3ii2l',
  'record-key': '3l6oveex3ii2l',
}

// The interop syntax vectors per string format: [{value, kind}], kind e.g. "syntax_invalid".
export function loadVectors(dir) {
  const files = {
    datetime: ['datetime_syntax_valid', 'datetime_syntax_invalid', 'datetime_parse_invalid'],
    uri: ['uri_syntax_valid', 'uri_syntax_invalid'],
    'at-uri': ['aturi_syntax_valid', 'aturi_syntax_invalid'],
    did: ['did_syntax_valid', 'did_syntax_invalid'],
    handle: ['handle_syntax_valid', 'handle_syntax_invalid'],
    'at-identifier': ['atidentifier_syntax_valid', 'atidentifier_syntax_invalid'],
    nsid: ['nsid_syntax_valid', 'nsid_syntax_invalid'],
    cid: ['cid_syntax_valid', 'cid_syntax_invalid'],
    language: ['language_syntax_valid', 'language_syntax_invalid', 'language_parse_invalid'],
    tid: ['tid_syntax_valid', 'tid_syntax_invalid'],
    'record-key': ['recordkey_syntax_valid', 'recordkey_syntax_invalid'],
  }
  const out = {}
  for (const [format, names] of Object.entries(files)) {
    out[format] = names.flatMap((name) =>
      readFileSync(join(dir, name + '.txt'), 'utf8')
        .split('\n')
        .filter((line) => line.length > 0 && !line.startsWith('#'))
        .map((value) => ({ value, kind: name.replace(/^[a-z]+_/, '') })),
    )
  }
  return out
}
