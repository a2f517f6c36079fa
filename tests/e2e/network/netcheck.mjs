#!/usr/bin/env node
// What `ss -ltnp` and `pgrep -g` would say, read from /proc (no iproute2/procps needed).
//   node netcheck.mjs bound --pgid N --ports a,b,c
//       every TCP listener of the process group N is on 127.0.0.1, and each port is among them;
//       exit 1 (and the offending sockets on stderr) otherwise
//   node netcheck.mjs gone --pgid N --ports a,b,c
//       no process of group N is left and nothing listens on any of the ports; exit 1 otherwise
import fs from 'node:fs'

function args(argv) {
  const o = { cmd: argv[0], pgid: 0, ports: [] }
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--pgid') o.pgid = Number(argv[++i])
    else if (argv[i] === '--ports') o.ports = argv[++i].split(',').filter(Boolean).map(Number)
    else throw new Error(`unknown argument ${argv[i]}`)
  }
  return o
}

// Processes whose process group is pgid: [{pid, comm}]
function groupProcesses(pgid) {
  const out = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat
    try { stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8') } catch { continue }
    const close = stat.lastIndexOf(')')
    const comm = stat.slice(stat.indexOf('(') + 1, close)
    const fields = stat.slice(close + 2).split(' ')  // state ppid pgrp ...
    if (fields[0] === 'Z') continue  // a zombie holds nothing; its parent will reap it
    if (Number(fields[2]) === pgid) out.push({ pid: Number(entry), comm })
  }
  return out
}

// /proc/net/tcp{,6} print an address as 32-bit words in host (little-endian) order, %08X each.
function hexToAddr(hex, v6) {
  const bytes = []
  for (let i = 0; i < hex.length; i += 8) {
    const w = parseInt(hex.slice(i, i + 8), 16)
    bytes.push(w & 255, (w >>> 8) & 255, (w >>> 16) & 255, w >>> 24)
  }
  if (!v6) return bytes.join('.')
  const groups = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16))
  const text = groups.join(':')
  if (text === '0:0:0:0:0:0:0:0') return '::'
  if (text === '0:0:0:0:0:0:0:1') return '::1'
  return text
}

// TCP sockets in LISTEN state: [{addr, port, inode}]
function listeners() {
  const out = []
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]]) {
    let text
    try { text = fs.readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '0A') continue
      const [addrHex, portHex] = f[1].split(':')
      out.push({ addr: hexToAddr(addrHex, v6), port: parseInt(portHex, 16), inode: f[9], v6 })
    }
  }
  return out
}

function socketInodes(pid) {
  const inodes = new Set()
  let fds = []
  try { fds = fs.readdirSync(`/proc/${pid}/fd`) } catch { return inodes }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) inodes.add(m[1])
    } catch {}
  }
  return inodes
}

const o = args(process.argv.slice(2))
const procs = groupProcesses(o.pgid)
const socks = listeners()
let ok = true
if (o.cmd === 'bound') {
  const owned = []
  for (const p of procs) {
    const inodes = socketInodes(p.pid)
    for (const s of socks) if (inodes.has(s.inode)) owned.push({ ...s, ...p })
  }
  for (const s of owned) {
    const line = `${s.comm}[${s.pid}] listens on ${s.v6 ? `[${s.addr}]` : s.addr}:${s.port}`
    if (s.addr !== '127.0.0.1') {
      process.stderr.write(`netcheck: NOT loopback-only: ${line}\n`)
      ok = false
    } else {
      process.stdout.write(`netcheck: ${line}\n`)
    }
  }
  for (const port of o.ports) {
    if (!owned.some((s) => s.port === port)) {
      process.stderr.write(`netcheck: nothing of group ${o.pgid} listens on port ${port}\n`)
      ok = false
    }
  }
} else if (o.cmd === 'gone') {
  for (const p of procs) {
    process.stderr.write(`netcheck: left behind: ${p.comm}[${p.pid}] (group ${o.pgid})\n`)
    ok = false
  }
  for (const s of socks) {
    if (o.ports.includes(s.port)) {
      process.stderr.write(`netcheck: still listening: ${s.addr}:${s.port}\n`)
      ok = false
    }
  }
} else {
  process.stderr.write('usage: netcheck.mjs bound|gone --pgid N --ports a,b,c\n')
  process.exit(2)
}
process.exit(ok ? 0 : 1)
