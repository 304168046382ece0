/**
 * An incremental HTTP/1.1 response parser for the injector's own connection pool (h1-pool.ts):
 * status line, headers, then a body framed by content-length, chunked transfer coding or the end
 * of the connection. Correct for any split of the byte stream (property-tested). It parses one
 * response at a time and stops at its end: the pool never pipelines, so bytes after a complete
 * response are the server's mistake and the caller drops the connection.
 *
 * Why our own: undici's general-purpose client costs about 45 µs of CPU per request on loopback,
 * more than autocannon's whole request; this parser and the pool around it do what a load client
 * needs and nothing more (see h1-pool.ts).
 */

export type ResponseHeaders = Record<string, string | string[]>

/** The server broke HTTP/1.1 framing; the connection cannot be trusted any more. */
export class H1ProtocolError extends Error {
  readonly code = 'ERR_H1_PROTOCOL'
  constructor(message: string) {
    super(message)
    this.name = 'H1ProtocolError'
  }
}

/** Where a parsed response goes; chunks handed to onBody are owned by the receiver. */
export interface ResponseSink {
  onHead(status: number, headers: ResponseHeaders): void
  onBody(chunk: Buffer): void
}

/** A response head larger than this is refused rather than buffered without bound. */
const MAX_HEAD = 64 * 1024
/** A chunk-size or trailer line longer than this is refused. */
const MAX_LINE = 8 * 1024

const HEAD = 0
const BODY_LENGTH = 1
const CHUNK_SIZE = 2
const CHUNK_DATA = 3
const CHUNK_DATA_END = 4
const TRAILERS = 5
const BODY_UNTIL_CLOSE = 6
const DONE = 7

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1')
const HTTP_1 = Buffer.from('HTTP/1.', 'latin1')

/** Names servers commonly send, matched case-insensitively to these interned strings. */
const KNOWN_NAMES = [
  'content-type', 'content-length', 'connection', 'date', 'server', 'keep-alive', 'transfer-encoding',
  'retry-after', 'cache-control', 'x-request-id', 'vary', 'access-control-allow-origin'
].map((name) => ({ name, bytes: Buffer.from(name, 'latin1') }))

/** Index of the CR of the next CRLF in `buf[from, end)`, or `end`. */
function lineEnd(buf: Buffer, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) if (buf[i] === 13 && buf[i + 1] === 10) return i
  return end
}

/** `HTTP/1.x NNN[ reason]` to NNN, or -1. */
function statusOf(buf: Buffer, start: number, eol: number): number {
  if (eol - start < 12) return -1
  // Byte by byte: a native Buffer.compare call costs more than these 7 comparisons.
  for (let k = 0; k < 7; k++) if (buf[start + k] !== HTTP_1[k]) return -1
  const v = buf[start + 7]
  if ((v !== 48 && v !== 49) || buf[start + 8] !== 32) return -1
  let status = 0
  for (let k = start + 9; k < start + 12; k++) {
    const d = (buf[k] as number) - 48
    if (d < 0 || d > 9) return -1
    status = status * 10 + d
  }
  if (eol > start + 12 && buf[start + 12] !== 32) return -1
  return status
}

function headerName(buf: Buffer, start: number, end: number): string {
  const len = end - start
  for (let k = 0; k < KNOWN_NAMES.length; k++) {
    const known = KNOWN_NAMES[k] as { name: string; bytes: Buffer }
    const kb = known.bytes
    if (kb.length !== len) continue
    let same = true
    for (let i = 0; i < len; i++) {
      const c = buf[start + i] as number
      const want = kb[i] as number
      if (c !== want && !(c >= 65 && c <= 90 && c + 32 === want)) { same = false; break }
    }
    if (same) return known.name
  }
  return buf.toString('latin1', start, end).toLowerCase()
}
const CONTENT_LENGTH = /^\d{1,15}$/
const CHUNK_SIZE_LINE = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/

export class H1ResponseParser {
  /** True once the whole response was parsed; `keepAlive` is then meaningful. */
  done = false
  /** The connection may carry another request after this response. */
  keepAlive = false
  /** The server's `keep-alive: timeout=N` in ms: it closes an idle connection after that. NaN if not said. */
  keepAliveMs = Number.NaN
  private sink: ResponseSink | null = null
  private state = DONE
  private noBody = false
  private head: Buffer | null = null
  private remaining = 0
  private line = ''

  /** Starts a new response; `noBody` for a HEAD request, whose response never has a body. */
  reset(sink: ResponseSink, noBody: boolean): void {
    this.sink = sink
    this.noBody = noBody
    this.state = HEAD
    this.done = false
    this.keepAlive = false
    this.keepAliveMs = Number.NaN
    this.head = null
    this.remaining = 0
    this.line = ''
  }

  /** True while a body runs until the connection closes (so the close is its normal end). */
  get untilClose(): boolean {
    return this.state === BODY_UNTIL_CLOSE
  }

  /** True once the head is parsed (the status and headers were handed to the sink). */
  get pastHead(): boolean {
    return this.state !== HEAD
  }

  /**
   * Parses `buf[start, end)`. Returns the index where parsing stopped: `end`, or earlier when the
   * response completed (`done`) inside the buffer. Throws H1ProtocolError on malformed input.
   * The sink may call `reset`/`abandon` from its callbacks; parsing then stops.
   */
  execute(buf: Buffer, start: number, end: number): number {
    const sink = this.sink
    let i = start
    while (i < end && !this.done && this.sink === sink) {
      switch (this.state) {
        case HEAD:
          i = this.readHead(buf, i, end)
          break
        case BODY_LENGTH: {
          const n = Math.min(this.remaining, end - i)
          this.remaining -= n
          const from = i
          i += n
          if (this.remaining === 0) this.state = DONE
          this.emitBody(buf, from, i)
          if (this.state === DONE && this.sink === sink) this.done = true
          break
        }
        case CHUNK_SIZE:
        case TRAILERS: {
          const nl = buf.indexOf(10, i)
          const stop = nl < 0 || nl >= end ? end : nl
          this.line += buf.toString('latin1', i, stop)
          if (this.line.length > MAX_LINE) throw new H1ProtocolError('chunked body: a chunk-size or trailer line is too long')
          if (stop === end) return end
          i = stop + 1
          const text = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line
          this.line = ''
          if (this.state === TRAILERS) {
            if (text === '') { this.state = DONE; this.done = true }
            break
          }
          const m = CHUNK_SIZE_LINE.exec(text)
          if (m === null) throw new H1ProtocolError(`chunked body: bad chunk-size line "${text.slice(0, 40)}"`)
          this.remaining = Number.parseInt(m[1] as string, 16)
          this.state = this.remaining === 0 ? TRAILERS : CHUNK_DATA
          break
        }
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, end - i)
          this.remaining -= n
          const from = i
          i += n
          if (this.remaining === 0) this.state = CHUNK_DATA_END
          this.emitBody(buf, from, i)
          break
        }
        case CHUNK_DATA_END: {
          // CRLF after the chunk data, possibly split between reads.
          const c = buf[i]
          if (c === 13 && this.remaining === 0) { this.remaining = 1; i++; break }
          if (c !== 10) throw new H1ProtocolError('chunked body: chunk data not followed by CRLF')
          this.remaining = 0
          this.state = CHUNK_SIZE
          i++
          break
        }
        case BODY_UNTIL_CLOSE:
          this.emitBody(buf, i, end)
          return end
        default:
          return i
      }
    }
    return i
  }

  /** The connection closed: completes a body that runs until close; false if the response was cut. */
  eof(): boolean {
    if (this.state === BODY_UNTIL_CLOSE) {
      this.state = DONE
      this.done = true
      this.keepAlive = false
      return true
    }
    return this.done
  }

  /** Stops delivering to the current sink (the request was aborted). */
  abandon(): void {
    this.sink = null
    this.state = DONE
    this.head = null
  }

  private emitBody(buf: Buffer, from: number, to: number): void {
    if (to <= from) return
    // The read buffer is reused by the next read: the receiver gets its own copy.
    const c = Buffer.allocUnsafe(to - from)
    buf.copy(c, 0, from, to)
    this.sink?.onBody(c)
  }

  /** Consumes head bytes from `buf[i, end)`; returns where it stopped. */
  private readHead(buf: Buffer, i: number, end: number): number {
    const prev = this.head
    if (prev === null) {
      // The read buffer holds stale bytes past `end`: a match must lie wholly before it.
      const at = buf.indexOf(HEAD_END, i)
      if (at >= 0 && at + 4 <= end) {
        this.parseHead(buf, i, at)
        return at + 4
      }
      if (end - i > MAX_HEAD) throw new H1ProtocolError(`response head larger than ${MAX_HEAD} bytes`)
      this.head = Buffer.from(buf.subarray(i, end))
      return end
    }
    const all = Buffer.concat([prev, buf.subarray(i, end)])
    const at = all.indexOf(HEAD_END, Math.max(0, prev.length - 3))
    if (at < 0) {
      if (all.length > MAX_HEAD) throw new H1ProtocolError(`response head larger than ${MAX_HEAD} bytes`)
      this.head = all
      return end
    }
    this.head = null
    this.parseHead(all, 0, at)
    return i + (at + 4 - prev.length)
  }

  /**
   * Parses the head in `buf[start, end)` (without the blank line) straight from the bytes: this
   * runs once per request, and strings made per line and per name showed up in profiles. Common
   * header names map to interned lower-case strings without allocating.
   */
  private parseHead(buf: Buffer, start: number, end: number): void {
    let eol = lineEnd(buf, start, end)
    const status = statusOf(buf, start, eol)
    if (status < 0) throw new H1ProtocolError(`bad status line "${buf.toString('latin1', start, Math.min(eol, start + 60))}"`)
    const http10 = buf[start + 7] === 48
    const headers: ResponseHeaders = {}
    let at = eol + 2
    while (at < end) {
      eol = lineEnd(buf, at, end)
      let colon = at
      while (colon < eol && buf[colon] !== 58) colon++
      if (colon === at || colon === eol) throw new H1ProtocolError(`bad header line "${buf.toString('latin1', at, Math.min(eol, at + 60))}"`)
      const last = buf[colon - 1]
      if (last === 32 || last === 9) throw new H1ProtocolError(`whitespace before the colon in header "${buf.toString('latin1', at, colon).trim()}"`)
      const name = headerName(buf, at, colon)
      let vs = colon + 1
      while (vs < eol && (buf[vs] === 32 || buf[vs] === 9)) vs++
      let ve = eol
      while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--
      const value = buf.toString('latin1', vs, ve)
      const had = headers[name]
      if (had === undefined) headers[name] = value
      else if (Array.isArray(had)) had.push(value)
      else headers[name] = [had, value]
      at = eol + 2
    }
    if (status < 200) {
      // 100 Continue and other informational heads are followed by the real one.
      if (status === 101) throw new H1ProtocolError('101 Switching Protocols is not supported')
      this.state = HEAD
      return
    }
    const conn = lower(headers.connection)
    this.keepAlive = http10 ? conn.includes('keep-alive') : !conn.includes('close')
    const ka = headers['keep-alive']
    if (ka !== undefined) {
      const t = /timeout\s*=\s*(\d+)/i.exec(Array.isArray(ka) ? ka.join(',') : ka)
      if (t !== null) this.keepAliveMs = Number(t[1]) * 1000
    }
    const te = lower(headers['transfer-encoding'])
    const cl = headers['content-length']
    if (this.noBody || status === 204 || status === 304) {
      this.state = DONE
    } else if (te !== '') {
      if (!/(?:^|,)\s*chunked\s*$/.test(te)) {
        this.keepAlive = false
        this.state = BODY_UNTIL_CLOSE
      } else {
        this.state = CHUNK_SIZE
      }
    } else if (cl !== undefined) {
      // Repeated content-length headers are fine only if they agree.
      const first = typeof cl === 'string' ? cl : cl[0] as string
      if (!CONTENT_LENGTH.test(first) || (typeof cl !== 'string' && cl.some((x) => x !== first))) {
        throw new H1ProtocolError(`bad content-length "${typeof cl === 'string' ? cl : cl.join(', ')}"`)
      }
      this.remaining = Number(first)
      this.state = this.remaining === 0 ? DONE : BODY_LENGTH
    } else {
      this.keepAlive = false
      this.state = BODY_UNTIL_CLOSE
    }
    const sink = this.sink
    sink?.onHead(status, headers)
    if (this.state === DONE && this.sink === sink) this.done = true
  }
}

function lower(v: string | string[] | undefined): string {
  if (v === undefined) return ''
  return (Array.isArray(v) ? v.join(',') : v).toLowerCase()
}
