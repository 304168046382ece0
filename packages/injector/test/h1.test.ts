import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { test } from 'node:test'
import fc from 'fast-check'
import { createH1Pool } from '../src/h1-pool.ts'
import type { PreparedDispatch, RequestController, ResponseHandler } from '../src/h1-pool.ts'
import { H1ProtocolError, H1ResponseParser } from '../src/h1-response-parser.ts'
import type { ResponseHeaders } from '../src/h1-response-parser.ts'

interface Parsed {
  status: number
  headers: ResponseHeaders | null
  body: string
  done: boolean
  keepAlive: boolean
  /** Where parsing stopped, as an offset into the whole input. */
  consumed: number
}

const STALE_BEFORE = Buffer.from('X\r\n\r\n0\r\n')
const STALE_AFTER = Buffer.from('\r\n\r\nHTTP/1.1 500 stale\r\n\r\n')

/** Feeds `bytes` cut at `cuts`, each piece inside a larger buffer of stale bytes (as a reused read buffer is). */
function parse(bytes: Buffer, cuts: number[], closeAtEnd = false): Parsed {
  const p = new H1ResponseParser()
  const out: Parsed = { status: 0, headers: null, body: '', done: false, keepAlive: false, consumed: 0 }
  const body: Buffer[] = []
  p.reset({ onHead: (s, h) => { out.status = s; out.headers = h }, onBody: (c) => body.push(c) }, false)
  const bounds = [0, ...[...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]
  for (let k = 0; k + 1 < bounds.length && !p.done; k++) {
    const piece = bytes.subarray(bounds[k], bounds[k + 1])
    const stale = Buffer.concat([STALE_BEFORE, piece, STALE_AFTER])
    const stop = p.execute(stale, STALE_BEFORE.length, STALE_BEFORE.length + piece.length)
    out.consumed = (bounds[k] as number) + stop - STALE_BEFORE.length
  }
  if (closeAtEnd) p.eof()
  out.done = p.done
  out.keepAlive = p.keepAlive
  out.body = Buffer.concat(body).toString('utf8')
  return out
}

const cutsArb = (n: number) => fc.array(fc.integer({ min: 1, max: Math.max(1, n - 1) }), { maxLength: 12 })

test('property: any split of a content-length or chunked response parses like one piece', () => {
  const bodyArb = fc.string({ unit: 'grapheme', maxLength: 300 })
  fc.assert(fc.property(bodyArb, fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.integer({ min: 0, max: 1e9 }), (text, sizes, chunked, seed) => {
    const b = Buffer.from(text, 'utf8')
    let wire: Buffer
    if (chunked) {
      const parts: Buffer[] = [Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n')]
      let at = 0
      let k = 0
      while (at < b.length) {
        const n = Math.min(sizes[k++ % sizes.length] as number, b.length - at)
        parts.push(Buffer.from(`${n.toString(16)}${k % 2 === 0 ? ';ext=1' : ''}\r\n`), b.subarray(at, at + n), Buffer.from('\r\n'))
        at += n
      }
      parts.push(Buffer.from('0\r\nx-trailer: 1\r\n\r\n'))
      wire = Buffer.concat(parts)
    } else {
      wire = Buffer.concat([Buffer.from(`HTTP/1.1 201 Created\r\nContent-Length: ${b.length}\r\nSet-Cookie: a\r\nset-cookie: b\r\n\r\n`), b])
    }
    const whole = parse(wire, [])
    let x = seed
    const cuts = Array.from({ length: 1 + (seed % 10) }, () => { x = (x * 1103515245 + 12345) % 2147483648; return 1 + (x % Math.max(1, wire.length - 1)) })
    const split = parse(wire, cuts)
    assert.equal(whole.done, true)
    assert.equal(whole.body, text)
    assert.equal(whole.consumed, wire.length)
    assert.equal(whole.keepAlive, true)
    assert.deepEqual(split, whole)
    if (chunked) assert.equal(whole.headers?.['content-type'], 'text/event-stream')
    else assert.deepEqual(whole.headers?.['set-cookie'], ['a', 'b'])
    assert.equal(whole.status, chunked ? 200 : 201)
  }), { seed: 42, numRuns: 300 })
})

test('property: byte-at-a-time feeding of a chunked response equals one piece', () => {
  const wire = Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n1;x\r\n \r\n5\r\nworld\r\n0\r\n\r\n')
  fc.assert(fc.property(cutsArb(wire.length), (cuts) => {
    assert.deepEqual(parse(wire, cuts), parse(wire, []))
  }), { seed: 7, numRuns: 100 })
  const all = Array.from({ length: wire.length }, (_, i) => i)
  assert.equal(parse(wire, all).body, 'hello world')
})

test('a response is parsed up to its end only; bytes after it are left for the caller to refuse', () => {
  const wire = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA')
  const r = parse(wire, [])
  assert.equal(r.body, 'ok')
  assert.equal(r.done, true)
  assert.equal(r.consumed, wire.length - 5)
})

test('keep-alive follows HTTP version and connection header; a body without length runs until close', () => {
  assert.equal(parse(Buffer.from('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'), []).keepAlive, false)
  assert.equal(parse(Buffer.from('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n'), []).keepAlive, false)
  assert.equal(parse(Buffer.from('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n'), []).keepAlive, true)
  const wire = Buffer.from('HTTP/1.0 200 OK\r\n\r\nuntil the end')
  const open = parse(wire, [20])
  assert.equal(open.done, false)
  const closed = parse(wire, [20], true)
  assert.deepEqual([closed.done, closed.body, closed.keepAlive], [true, 'until the end', false])
  const noBody = parse(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'), [])
  assert.deepEqual([noBody.done, noBody.status, noBody.body], [true, 204, ''])
})

test('malformed responses throw H1ProtocolError naming the bad part', () => {
  const bad: [string, RegExp][] = [
    ['HTTP/2 200 OK\r\n\r\n', /bad status line "HTTP\/2 200 OK"/],
    ['HTTP/1.1 200 OK\r\nno colon\r\n\r\n', /bad header line "no colon"/],
    ['HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n', /bad content-length "1, 2"/],
    ['HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n', /bad content-length "-1"/],
    ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', /bad chunk-size line "zz"/],
    ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n', /chunk data not followed by CRLF/]
  ]
  for (const [wire, re] of bad) {
    assert.throws(() => parse(Buffer.from(wire), []), (err: unknown) => err instanceof H1ProtocolError && err.code === 'ERR_H1_PROTOCOL' && re.test(err.message), wire)
  }
})

// ---- the pool, against raw TCP servers that answer exactly as scripted

interface RawServer { port: number; accepted: () => number; close: () => Promise<void> }

/** A TCP server that calls `respond` once per request head+body it reads. */
async function rawServer(respond: (sock: Socket, n: number) => void): Promise<RawServer> {
  let accepted = 0
  let n = 0
  const socks = new Set<Socket>()
  const server = createServer((sock) => {
    accepted++
    socks.add(sock)
    sock.on('close', () => socks.delete(sock))
    let buf = ''
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      for (;;) {
        const he = buf.indexOf('\r\n\r\n')
        if (he < 0) return
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, he))?.[1] ?? 0)
        if (buf.length < he + 4 + len) return
        buf = buf.slice(he + 4 + len)
        respond(sock, n++)
      }
    })
    sock.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: () => new Promise<void>((r) => { for (const s of socks) s.destroy(); server.close(() => r()) })
  }
}

interface Outcome { status: number; body: string; error: Error | null }

function send(pool: ReturnType<typeof createH1Pool>, body = 'x', onStart?: (c: RequestController) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { status: 0, body: '', error: null }
    const handler: ResponseHandler = {
      onRequestStart: (c) => onStart?.(c),
      onResponseStart: (_c, s) => { out.status = s },
      onResponseData: (_c, d) => { out.body += d.toString() },
      onResponseEnd: () => resolve(out),
      onResponseError: (_c, e) => { out.error = e; resolve(out) }
    }
    pool.dispatch({ path: '/p', method: 'POST', headers: { 'content-type': 'text/plain' }, body }, handler)
  })
}

const ok = (body: string): string => `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`

test('pool: keep-alive reuse, at most `connections` sockets, FIFO queue, chunked and close-delimited bodies', async () => {
  const srv = await rawServer((s, n) => {
    if (n % 3 === 0) s.write(ok(`r${n}`))
    else if (n % 3 === 1) s.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nr${n % 10}\r\n0\r\n\r\n`)
    else s.write(ok(`r${n}`))
  })
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 2 })
  try {
    const rs = await Promise.all(Array.from({ length: 9 }, () => send(pool)))
    assert.ok(rs.every((r) => r.error === null && r.status === 200 && r.body.startsWith('r')), JSON.stringify(rs))
    assert.equal(srv.accepted(), 2)
    for (let i = 0; i < 3; i++) assert.equal((await send(pool)).error, null)
    assert.equal(srv.accepted(), 2, 'sequential requests reuse the idle sockets')
  } finally {
    await pool.close()
    await srv.close()
  }
  const until = await rawServer((s) => { s.end('HTTP/1.0 200 OK\r\n\r\nall of it') })
  const p2 = createH1Pool(new URL(`http://127.0.0.1:${until.port}`), { connectTimeoutMs: 2000, connections: 1 })
  try {
    assert.deepEqual(await send(p2), { status: 200, body: 'all of it', error: null })
    assert.deepEqual(await send(p2), { status: 200, body: 'all of it', error: null })
    assert.equal(until.accepted(), 2, 'a close-delimited body never leaves its socket for reuse')
  } finally {
    await p2.close()
    await until.close()
  }
})

test('pool: a connection cut mid-body fails only its request; extra bytes after a response drop the socket', async () => {
  const srv = await rawServer((s, n) => {
    if (n === 0) { s.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'); setTimeout(() => s.destroy(), 20) } else if (n === 1) s.write(`${ok('fine')}JUNK`)
    else s.write(ok('again'))
  })
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 1 })
  try {
    const cut = await send(pool)
    assert.equal(cut.status, 200)
    assert.equal(cut.body, 'abc')
    assert.match(String(cut.error?.message), /closed the connection before the response was complete/)
    assert.deepEqual(await send(pool), { status: 200, body: 'fine', error: null })
    assert.deepEqual(await send(pool), { status: 200, body: 'again', error: null })
    assert.equal(srv.accepted(), 3)
  } finally {
    await pool.close()
    await srv.close()
  }
})

test('pool: abort in onRequestStart never sends; abort mid-response drops the socket; close waits for in-flight', async () => {
  const srv = await rawServer((s, n) => { if (n !== 1) setTimeout(() => s.write(ok(`r${n}`)), 30) })
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 1 })
  try {
    const never = await send(pool, 'x', (c) => c.abort(new Error('stop')))
    assert.match(String(never.error?.message), /stop/)
    const first = send(pool)
    let ctl: RequestController | null = null
    const second = send(pool, 'x', (c) => { ctl = c })
    assert.deepEqual(await first, { status: 200, body: 'r0', error: null })
    await new Promise((r) => setTimeout(r, 20))
    ;(ctl as unknown as RequestController).abort(new Error('gave up'))
    assert.match(String((await second).error?.message), /gave up/)
    const third = send(pool)
    const closed = pool.close()
    assert.deepEqual(await third, { status: 200, body: 'r2', error: null })
    await closed
    await assert.rejects(send(pool), /the connection pool is closed/)
  } finally {
    await srv.close()
  }
})

test('pool: refused connections fail the waiting requests with ECONNREFUSED', async () => {
  const srv = await rawServer(() => {})
  const port = srv.port
  await srv.close()
  const pool = createH1Pool(new URL(`http://127.0.0.1:${port}`), { connectTimeoutMs: 2000, connections: 2 })
  const rs = await Promise.all(Array.from({ length: 5 }, () => send(pool)))
  assert.ok(rs.every((r) => (r.error as { code?: string } | null)?.code === 'ECONNREFUSED'), JSON.stringify(rs.map((r) => r.error?.message)))
  await pool.close()
})

test('pool: an idle socket is not reused within a second of the server\'s keep-alive timeout', async () => {
  const srv = await rawServer((s) => { s.write('HTTP/1.1 200 OK\r\nkeep-alive: timeout=5\r\ncontent-length: 2\r\n\r\nok') })
  let now = 0
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 1, now: () => now })
  try {
    assert.equal((await send(pool)).body, 'ok')
    now = 3999
    assert.equal((await send(pool)).body, 'ok')
    assert.equal(srv.accepted(), 1, 'reused while the server still keeps it')
    now = 3999 + 4000
    assert.equal((await send(pool)).body, 'ok')
    assert.equal(srv.accepted(), 2, 'a socket about to be closed by the server is replaced')
  } finally {
    await pool.close()
    await srv.close()
  }
})

test('pool: an abort after the end changes nothing; close still waits for the requests in flight', async () => {
  const srv = await rawServer((s, n) => { setTimeout(() => s.write(ok(`r${n}`)), n === 0 ? 0 : 80) })
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 1 })
  try {
    let ctl: RequestController | null = null
    const first = await send(pool, 'x', (c) => { ctl = c })
    assert.equal(first.body, 'r0')
    const late = ctl as unknown as RequestController
    late.abort(new Error('too late'))
    assert.equal(late.aborted, false)
    let secondDone = false
    const second = send(pool).then((r) => { secondDone = true; return r })
    await pool.close()
    assert.equal(secondDone, true, 'close resolved only after the request in flight ended')
    assert.equal((await second).body, 'r1')
  } finally {
    await srv.close()
  }
})

/** A server that answers each request with its own body bytes, after checking content-length is their count. */
async function echoServer(pauseFirstMs = 0): Promise<RawServer & { heads: string[] }> {
  let accepted = 0
  const heads: string[] = []
  const socks = new Set<Socket>()
  const server = createServer((sock) => {
    const first = accepted++ === 0
    socks.add(sock)
    sock.on('close', () => socks.delete(sock))
    let buf = Buffer.alloc(0)
    // Chunks of a body still arriving, joined once it is complete (a 16 MB body arrives in many).
    let pending: Buffer[] = []
    let pendingBytes = 0
    let need = 0
    sock.on('data', (d: Buffer) => {
      if (need > 0) {
        pending.push(d)
        pendingBytes += d.length
        if (pendingBytes < need) return
        buf = Buffer.concat(pending)
        pending = []
        pendingBytes = 0
        need = 0
      } else buf = Buffer.concat([buf, d])
      for (;;) {
        const he = buf.indexOf('\r\n\r\n')
        if (he < 0) return
        const head = buf.toString('latin1', 0, he)
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (buf.length < he + 4 + len) {
          need = he + 4 + len
          pending = [buf]
          pendingBytes = buf.length
          return
        }
        heads.push(head)
        const body = buf.subarray(he + 4, he + 4 + len)
        buf = buf.subarray(he + 4 + len)
        sock.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body]))
      }
    })
    // The first connection reads nothing for a while: a large request to it cannot be written at once.
    if (first && pauseFirstMs > 0) { sock.pause(); setTimeout(() => sock.resume(), pauseFirstMs) }
    sock.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    heads,
    accepted: () => accepted,
    close: () => new Promise<void>((r) => { for (const s of socks) s.destroy(); server.close(() => r()) })
  }
}

function sendBytes(pool: ReturnType<typeof createH1Pool>, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; body: Buffer; error: Error | null }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = []
    let status = 0
    pool.dispatch({ path: '/echo', method: 'POST', headers, body }, {
      onResponseStart: (_c, s) => { status = s },
      onResponseData: (_c, d) => { parts.push(d) },
      onResponseEnd: () => resolve({ status, body: Buffer.concat(parts), error: null }),
      onResponseError: (_c, e) => resolve({ status, body: Buffer.concat(parts), error: e })
    })
  })
}

test('pool: request bytes on the wire: UTF-8 bodies and header values, Buffer bodies, content-length in bytes', async () => {
  const srv = await echoServer()
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 2 })
  const headers = { 'content-type': 'application/json', 'x-note': 'café' }
  try {
    const bodies: (string | Buffer)[] = ['', 'plain ascii', 'é中😀 and a lone \ud800 surrogate', Buffer.from([0, 255, 13, 10, 13, 10]), 'x'.repeat(40_000) + '€']
    for (const b of bodies) {
      const r = await sendBytes(pool, b, headers)
      const want = typeof b === 'string' ? Buffer.from(b, 'utf8') : b
      assert.equal(r.error, null)
      assert.ok(r.body.equals(want), `echo of a ${want.length}-byte body`)
    }
    assert.equal(srv.heads.length, bodies.length)
    const head = Buffer.from(srv.heads[0] as string, 'latin1').toString('utf8')
    assert.match(head, /^POST \/echo HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\ncontent-type: application\/json\r\nx-note: café\r\ncontent-length: 0$/)
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => {
      const r = await sendBytes(pool, s, headers)
      return r.error === null && r.body.equals(Buffer.from(s, 'utf8'))
    }), { seed: 7, numRuns: 60 })
  } finally {
    await pool.close()
    await srv.close()
  }
})

test('pool: a request whose write is still pending keeps its bytes while other requests are written', async () => {
  const srv = await echoServer(300)
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 2 })
  const headers = { 'content-type': 'text/plain' }
  try {
    // Open both connections; the first (paused by the server) takes the large request.
    await Promise.all([sendBytes(pool, 'a', headers), sendBytes(pool, 'b', headers)])
    // Larger than the socket buffers, so most of it waits in the socket after the write call.
    const big = Buffer.alloc(16 * 1024 * 1024, 'big request ').toString('latin1')
    const large = sendBytes(pool, big, headers)
    // These go to the other connection while that write is pending, over the same range of bytes.
    const other = [Buffer.alloc(8 * 1024 * 1024, 'other ').toString('latin1'), 'small', 'y'.repeat(5000)]
    for (const body of other) {
      const r = await sendBytes(pool, body, headers)
      assert.equal(r.error, null)
      assert.ok(r.body.equals(Buffer.from(body, 'latin1')), `a ${body.length}-byte body arrived intact`)
    }
    const l = await large
    assert.equal(l.error, null)
    assert.ok(l.body.equals(Buffer.from(big, 'latin1')), 'the large body arrived intact')
  } finally {
    await pool.close()
    await srv.close()
  }
})

function sendPrepared(prepared: PreparedDispatch): Promise<{ status: number; body: Buffer; error: Error | null }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = []
    let status = 0
    prepared.dispatch({
      onResponseStart: (_c, s) => { status = s },
      onResponseData: (_c, d) => { parts.push(d) },
      onResponseEnd: () => resolve({ status, body: Buffer.concat(parts), error: null }),
      onResponseError: (_c, e) => resolve({ status, body: Buffer.concat(parts), error: e })
    })
  })
}

test('pool: a prepared request goes out as the same bytes on the connection set aside for it; others use the rest meanwhile', { timeout: 10_000 }, async () => {
  const srv = await echoServer()
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 2 })
  const headers = { 'content-type': 'application/json', 'x-note': 'café' }
  try {
    await Promise.all([sendBytes(pool, 'warm a', headers), sendBytes(pool, 'warm b', headers)])
    const body = 'é中😀 prepared'
    const prepared = pool.prepare!({ path: '/echo', method: 'POST', headers, body })
    // With one of two sockets set aside, ordinary requests share the other (and open no third),
    // also while the prepared one is sent.
    const during = Promise.all([sendBytes(pool, 'one', headers), sendBytes(pool, 'two', headers)])
    const r = await sendPrepared(prepared)
    assert.deepEqual((await during).map((x) => x.body.toString()), ['one', 'two'])
    assert.equal(r.error, null)
    assert.equal(r.body.toString(), body)
    const heads = srv.heads.map((h) => Buffer.from(h, 'latin1').toString('utf8'))
    assert.equal(heads.length, 5)
    assert.ok(heads.some((h) => new RegExp(`^POST /echo HTTP/1\\.1\\r\\nhost: 127\\.0\\.0\\.1:\\d+\\r\\ncontent-type: application/json\\r\\nx-note: café\\r\\ncontent-length: ${Buffer.byteLength(body)}$`).test(h)), heads.join('\n\n'))
    assert.equal(srv.accepted(), 2, 'no connection was opened for it at send time')
    assert.throws(() => prepared.dispatch({}), /sent once/)
  } finally {
    await pool.close()
    await srv.close()
  }
})

test('pool: a prepared request whose connection was lost is sent on another; a discarded one gives its connection back', async () => {
  let first: Socket | null = null
  const srv = await rawServer((s, n) => { first ??= s; s.write(ok(`r${n}`)) })
  const pool = createH1Pool(new URL(`http://127.0.0.1:${srv.port}`), { connectTimeoutMs: 2000, connections: 1 })
  try {
    assert.equal((await send(pool)).error, null)
    const lost = pool.prepare!({ path: '/p', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })
    ;(first as Socket | null)?.destroy() // the server drops the idle connection set aside
    await new Promise((r) => setTimeout(r, 50))
    const r = await sendPrepared(lost)
    assert.equal(r.error, null, 'sent over a new connection')
    assert.equal(srv.accepted(), 2)
    // Discarded: the one connection is free again for an ordinary request, which needs no new one.
    const unused = pool.prepare!({ path: '/p', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })
    unused.discard()
    assert.equal((await send(pool)).error, null)
    assert.equal(srv.accepted(), 2)
  } finally {
    await pool.close()
    await srv.close()
  }
})
