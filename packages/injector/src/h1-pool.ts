import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { H1ProtocolError, H1ResponseParser } from './h1-response-parser.ts'
import type { ResponseHeaders, ResponseSink } from './h1-response-parser.ts'

/**
 * What the pool hands a handler to abort its request: the part of undici's DispatchController the
 * injector uses, so one handler class serves both this pool and undici's.
 */
export interface RequestController {
  readonly aborted: boolean
  abort(reason: Error): void
}

/** The handler contract: undici's DispatchHandler callbacks, in the same order and meaning. */
export interface ResponseHandler {
  /** The request got a connection and is about to be written; aborting here means it is never sent. */
  onRequestStart?(controller: RequestController, context: unknown): void
  onResponseStart?(controller: RequestController, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void
  onResponseData?(controller: RequestController, chunk: Buffer): void
  onResponseEnd?(controller: RequestController, trailers: ResponseHeaders): void
  onResponseError?(controller: RequestController, err: Error): void
}

export interface DispatchRequest {
  path: string
  method: string
  /** Lower-case names; the same object is expected on every request (its encoding is cached). */
  headers: Record<string, string>
  /** A BodyWriter only for this pool (undici takes strings and Buffers). */
  body?: string | Buffer | BodyWriter
}

/**
 * A body that writes its own bytes into the pool's request buffer when the request goes out, so
 * no body string is built, joined and encoded first (request-body.ts makes them).
 */
export interface BodyWriter {
  /** The most bytes `writeInto` may write. */
  readonly maxBytes: number
  /** Writes the body at `buf[at..]`, which has room for maxBytes; returns the bytes written. */
  writeInto(buf: Buffer, at: number): number
}

/** The dispatch surface the injector needs, met by this pool and by undici's Pool. */
export interface RequestDispatcher {
  dispatch(req: DispatchRequest, handler: ResponseHandler): unknown
  /** Only this pool: builds a request's bytes and sets a connection aside for it ahead of its send. */
  prepare?(req: DispatchRequest): PreparedDispatch
  close(): Promise<void>
}

/** A request whose bytes are built, on a connection set aside for it, waiting for its send. */
export interface PreparedDispatch {
  /**
   * Sends it: one socket write on the connection set aside. If that connection was lost meanwhile
   * (or none was idle when it was prepared), an ordinary dispatch of the same request.
   */
  dispatch(handler: ResponseHandler): void
  /** Gives the connection back, unsent. */
  discard(): void
}

/** A connection failed or broke; `code` tells which (like Node's and undici's socket errors). */
export class H1SocketError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'H1SocketError'
    this.code = code
  }
}

export interface H1PoolOptions {
  /** Keep-alive sockets at most; requests beyond them wait in FIFO order. */
  connections: number
  /** A connection attempt that takes longer fails the requests waiting for it (as `connect`). */
  connectTimeoutMs: number
  /** Milliseconds, for keep-alive expiry only (not measurement); defaults to performance.now. */
  now?: () => number
}

/**
 * An idle socket is not reused this close to the server's announced keep-alive timeout: the
 * server may close it while our request is on the way, which would fail that request.
 */
const KEEP_ALIVE_MARGIN_MS = 1000

/** Scratch space for one request's bytes; it grows for larger requests. */
const SCRATCH_BYTES = 16 * 1024

/**
 * A keep-alive HTTP/1.1 connection pool for plain `http:` targets, built for a load client: one
 * socket write per request (head and body assembled in one reused Buffer, the head built once), reads
 * into one shared buffer through `onread` (no stream machinery, no 'data' events), one request per
 * socket at a time (no pipelining), and a socket that is free again the moment its response ends,
 * so a caller can reuse it at once. It speaks the same handler contract as undici's dispatch, so
 * the response recorder does not know which one it runs on.
 *
 * Left out on purpose: TLS (the injector uses undici for https), proxies, redirects, retries,
 * request bodies as streams, pipelining, upgrades.
 */
export function createH1Pool(origin: URL, opts: H1PoolOptions): RequestDispatcher {
  return new H1Pool(origin, opts)
}

class H1Request implements RequestController, ResponseSink {
  aborted = false
  /** Ended, failed or aborted: settled with the pool exactly once. */
  finished = false
  conn: H1Conn | null = null
  readonly method: string
  /** Request line and header block up to (not including) the content-length value. */
  readonly head: string
  /** UTF-8 bytes of `head`. */
  readonly headBytes: number
  readonly body: string | Buffer | BodyWriter
  readonly handler: ResponseHandler
  private readonly pool: H1Pool

  constructor(pool: H1Pool, method: string, head: string, headBytes: number, body: string | Buffer | BodyWriter, handler: ResponseHandler) {
    this.pool = pool
    this.method = method
    this.head = head
    this.headBytes = headBytes
    this.body = body
    this.handler = handler
  }

  abort(reason: Error): void {
    // After the end an abort changes nothing, as in undici.
    if (this.aborted || this.finished) return
    this.aborted = true
    this.finished = true
    const conn = this.conn
    if (conn !== null) {
      this.conn = null
      conn.detach()
    }
    // A queued request stays in the queue and is skipped when it comes up.
    this.handler.onResponseError?.(this, reason)
    this.pool.settled()
  }

  onHead(status: number, headers: ResponseHeaders): void {
    this.handler.onResponseStart?.(this, status, headers)
  }

  onBody(chunk: Buffer): void {
    this.handler.onResponseData?.(this, chunk)
  }
}

class H1Conn {
  readonly socket: Socket
  readonly parser = new H1ResponseParser()
  req: H1Request | null = null
  /** When the server may close it while idle (from its keep-alive header); Infinity if never said. */
  idleUntil = Number.POSITIVE_INFINITY
  connected = false
  dead = false
  private readonly pool: H1Pool
  private error: Error | null = null

  constructor(pool: H1Pool, host: string, port: number, readBuffer: Buffer, connectTimeoutMs: number) {
    this.pool = pool
    this.socket = connect({ host, port, noDelay: true, onread: { buffer: readBuffer, callback: this.onRead } })
    this.socket.setTimeout(connectTimeoutMs, this.onConnectTimeout)
    this.socket.on('connect', this.onConnect)
    this.socket.on('end', this.onEnd)
    this.socket.on('error', this.onError)
    this.socket.on('close', this.onClose)
  }

  start(req: H1Request, bytes?: Buffer): void {
    this.req = req
    req.conn = this
    this.parser.reset(req, req.method === 'HEAD')
    const socket = this.socket
    if (bytes !== undefined) {
      socket.write(bytes)
      return
    }
    socket.write(this.pool.encode(req))
    // The bytes live in the pool's scratch buffer: unless the write went through at once, the
    // socket still needs them, so the pool must not write over them for the next request.
    if (socket.writableLength !== 0) this.pool.scratchTaken()
  }

  /** Drops the connection under an aborted request without failing anyone. */
  detach(): void {
    this.req = null
    this.parser.abandon()
    this.kill()
  }

  kill(): void {
    if (this.dead) return
    this.dead = true
    this.pool.dropped(this)
    this.socket.destroy()
  }

  private readonly onConnectTimeout = (): void => {
    if (this.connected) return
    this.socket.destroy(new H1SocketError('ERR_H1_CONNECT_TIMEOUT', `connect to ${this.pool.hostHeader} timed out`))
  }

  private readonly onConnect = (): void => {
    this.socket.setTimeout(0)
    this.connected = true
    this.pool.connected(this)
  }

  private readonly onRead = (nread: number, buf: Buffer): boolean => {
    const req = this.req
    if (req === null) {
      // Bytes while idle: the server is not speaking HTTP/1.1 as we do; drop it.
      this.kill()
      return false
    }
    const parser = this.parser
    let at = 0
    try {
      at = parser.execute(buf, 0, nread)
    } catch (err) {
      this.fail(req, err as Error)
      return false
    }
    if (this.req !== req) return !this.dead
    if (parser.done) {
      this.complete(req, parser.keepAlive && at === nread)
      return !this.dead
    }
    return true
  }

  private complete(req: H1Request, keepAlive: boolean): void {
    this.req = null
    req.finished = true
    req.conn = null
    if (!keepAlive) this.kill()
    else {
      const ms = this.parser.keepAliveMs
      this.idleUntil = Number.isNaN(ms) ? Number.POSITIVE_INFINITY : this.pool.now() + ms - KEEP_ALIVE_MARGIN_MS
      // The socket is free before the handler hears of the end, so whatever it sends next can use it.
      this.pool.idle(this)
    }
    req.handler.onResponseEnd?.(req, {})
    this.pool.settled()
  }

  private fail(req: H1Request, err: Error): void {
    this.req = null
    req.finished = true
    req.conn = null
    this.kill()
    req.handler.onResponseError?.(req, err)
    this.pool.settled()
  }

  private readonly onEnd = (): void => {
    const req = this.req
    if (req !== null && this.parser.untilClose) {
      this.parser.eof()
      this.complete(req, false)
    }
  }

  private readonly onError = (err: Error): void => {
    this.error = err
  }

  private readonly onClose = (): void => {
    const wasConnected = this.connected
    const req = this.req
    const err = this.error
    if (!this.dead) {
      this.dead = true
      this.pool.dropped(this)
    }
    if (req !== null) {
      if (this.parser.untilClose) {
        this.parser.eof()
        this.complete(req, false)
      } else {
        this.fail(req, err ?? new H1SocketError('ERR_H1_SOCKET_CLOSED', 'the server closed the connection before the response was complete'))
      }
    } else if (!wasConnected) {
      this.pool.connectFailed(err ?? new H1SocketError('ERR_H1_CONNECT', 'the connection closed while connecting'))
    }
  }
}

class H1Pool implements RequestDispatcher {
  private readonly host: string
  private readonly port: number
  readonly hostHeader: string
  private readonly connectTimeoutMs: number
  private readonly max: number
  readonly now: () => number
  /** One read buffer for every socket: each read is consumed (copied out) before the next. */
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024)
  private readonly conns = new Set<H1Conn>()
  private readonly idleConns: H1Conn[] = []
  private queue: H1Request[] = []
  private queueHead = 0
  private connecting = 0
  /** Requests dispatched and not yet ended, failed or aborted. */
  private pending = 0
  private closed = false
  private onDrained: (() => void) | null = null
  private lastHeaders: Record<string, string> | null = null
  private lastBlock = ''
  /** A run sends one kind of request over and over: its head is built once. */
  private lastMethod = ''
  private lastPath = ''
  private lastHead = ''
  private lastHeadBytes = 0
  private readonly blocks = new WeakMap<object, string>()
  /**
   * Where each request's bytes are assembled right before its write: head and body in one Buffer
   * without joining strings (no rope to flatten, no separate byte-length pass over the body).
   * Reused while every write goes through at once, which is the normal case for a request.
   */
  private scratch: Buffer = Buffer.allocUnsafeSlow(SCRATCH_BYTES)

  constructor(origin: URL, opts: H1PoolOptions) {
    if (origin.protocol !== 'http:') throw new TypeError(`h1 pool: ${origin.origin} is not an http: origin`)
    this.host = origin.hostname.replace(/^\[|\]$/g, '')
    this.port = origin.port === '' ? 80 : Number(origin.port)
    this.hostHeader = origin.host
    this.max = opts.connections
    this.connectTimeoutMs = opts.connectTimeoutMs
    this.now = opts.now ?? (() => performance.now())
  }

  dispatch(r: DispatchRequest, handler: ResponseHandler): boolean {
    if (this.closed) throw new H1SocketError('ERR_H1_CLOSED', 'the connection pool is closed')
    this.useHead(r)
    const req = new H1Request(this, r.method, this.lastHead, this.lastHeadBytes, r.body ?? '', handler)
    this.pending++
    this.queue.push(req)
    this.pump()
    return true
  }

  /**
   * For a send that many processes make at one instant (a mesh plan's T0): everything but the
   * write is done now, so at that instant each process holds a core for as little as it can.
   * Measured with 16 processes meeting one T0 on 2 cores (injector and open loop, no libp2p):
   * first-send p99 5.9-6.3 ms with an ordinary send, 3.3-4.2 ms prepared, 2.2-3.3 ms for a raw
   * write of ready bytes (docs/architecture.md).
   */
  prepare(r: DispatchRequest): PreparedDispatch {
    if (this.closed) throw new H1SocketError('ERR_H1_CLOSED', 'the connection pool is closed')
    this.useHead(r)
    const head = this.lastHead
    const headBytes = this.lastHeadBytes
    const body = r.body ?? ''
    let conn: H1Conn | undefined
    while ((conn = this.idleConns.pop()) !== undefined) {
      if (conn.idleUntil === Number.POSITIVE_INFINITY || conn.idleUntil > this.now()) break
      conn.kill()
    }
    // Its own copy: the scratch buffer is the next ordinary request's.
    const bytes = conn === undefined ? null : Buffer.from(this.encode(new H1Request(this, r.method, head, headBytes, body, {})))
    let done = false
    const giveBack = (): H1Conn | null => {
      const c = conn ?? null
      conn = undefined
      return c !== null && !c.dead && (c.idleUntil === Number.POSITIVE_INFINITY || c.idleUntil > this.now()) ? c : null
    }
    return {
      dispatch: (handler) => {
        if (done) throw new H1SocketError('ERR_H1_PREPARED_USED', 'a prepared request is sent once')
        done = true
        const c = giveBack()
        if (c === null || bytes === null || this.closed) {
          if (c !== null) this.idle(c)
          this.dispatch(r, handler)
          return
        }
        const req = new H1Request(this, r.method, head, headBytes, body, handler)
        this.pending++
        handler.onRequestStart?.(req, {})
        if (req.aborted) { this.idle(c); return }
        c.start(req, bytes)
      },
      discard: () => {
        if (done) return
        done = true
        const c = giveBack()
        if (c !== null) this.idle(c)
      }
    }
  }

  /** Builds the head for this kind of request, unless it is the last one's. */
  private useHead(r: DispatchRequest): void {
    if (r.method === this.lastMethod && r.path === this.lastPath && r.headers === this.lastHeaders) return
    const head = `${r.method} ${r.path} HTTP/1.1\r\n${this.headerBlock(r.headers)}content-length: `
    this.lastHead = head
    this.lastHeadBytes = Buffer.byteLength(head)
    this.lastMethod = r.method
    this.lastPath = r.path
  }

  close(): Promise<void> {
    this.closed = true
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        for (const c of [...this.conns]) c.kill()
        resolve()
      }
      if (this.pending === 0) finish()
      else this.onDrained = finish
    })
  }

  /** Hands queued requests to idle sockets, and opens sockets for the rest while under the cap. */
  private pump(): void {
    while (this.queueHead < this.queue.length) {
      const conn = this.idleConns.pop()
      if (conn === undefined) {
        const waiting = this.queue.length - this.queueHead
        if (waiting > this.connecting && this.conns.size < this.max) {
          this.connecting++
          this.conns.add(new H1Conn(this, this.host, this.port, this.readBuffer, this.connectTimeoutMs))
          continue
        }
        return
      }
      if (conn.idleUntil !== Number.POSITIVE_INFINITY && conn.idleUntil <= this.now()) {
        conn.kill()
        continue
      }
      const req = this.take()
      if (req.aborted) { this.idleConns.push(conn); continue }
      req.handler.onRequestStart?.(req, {})
      if (req.aborted) {
        // Timed out while it waited for a connection: never sent (the abort settled it).
        this.idleConns.push(conn)
        continue
      }
      conn.start(req)
    }
  }

  /**
   * The request's bytes, one write's worth: the body goes in first, after room for the head, so
   * its UTF-8 length is known when the head (which carries it) is written in front of it.
   */
  encode(req: H1Request): Buffer {
    const body = req.body
    // The head, 16 digits of content-length at most, and the blank line.
    const room = req.headBytes + 20
    const most = room + (typeof body === 'string' ? body.length * 3 : body instanceof Uint8Array ? body.length : body.maxBytes)
    let buf = this.scratch
    if (buf.length < most) {
      buf = Buffer.allocUnsafeSlow(Math.max(most, buf.length * 2))
      this.scratch = buf
    }
    const len = typeof body === 'string' ? buf.write(body, room, 'utf8') : body instanceof Uint8Array ? body.copy(buf, room) : body.writeInto(buf, room)
    const tail = `${len}\r\n\r\n`
    const start = room - req.headBytes - tail.length
    buf.write(req.head, start, 'utf8')
    buf.write(tail, room - tail.length, 'latin1')
    return buf.subarray(start, room + len)
  }

  /** A write kept the scratch buffer's bytes: the next request gets a fresh one. */
  scratchTaken(): void {
    this.scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)
  }

  private take(): H1Request {
    const req = this.queue[this.queueHead] as H1Request
    this.queue[this.queueHead++] = undefined as unknown as H1Request
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
    return req
  }

  connected(conn: H1Conn): void {
    this.connecting--
    this.idle(conn)
  }

  idle(conn: H1Conn): void {
    if (conn.dead) return
    this.idleConns.push(conn)
    this.pump()
  }

  dropped(conn: H1Conn): void {
    if (!this.conns.delete(conn)) return
    if (!conn.connected) this.connecting--
    const k = this.idleConns.indexOf(conn)
    if (k >= 0) this.idleConns.splice(k, 1)
  }

  /** A connect attempt failed: the requests waiting for a socket fail with it, as undici's do. */
  connectFailed(err: Error): void {
    while (this.queueHead < this.queue.length) {
      const req = this.take()
      if (req.finished) continue
      req.aborted = true
      req.finished = true
      req.handler.onResponseError?.(req, err)
      this.settled()
    }
  }

  settled(): void {
    this.pending--
    if (this.pending === 0 && this.onDrained !== null) {
      const f = this.onDrained
      this.onDrained = null
      f()
      return
    }
    // A socket may have died under the request: what still waits may need a new one.
    if (this.queueHead < this.queue.length) this.pump()
  }

  private headerBlock(h: Record<string, string>): string {
    if (h === this.lastHeaders) return this.lastBlock
    let block = this.blocks.get(h)
    if (block === undefined) {
      block = 'host' in h ? '' : `host: ${this.hostHeader}\r\n`
      for (const k of Object.keys(h)) {
        const v = h[k] as string
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new TypeError(`h1 pool: invalid header name "${k}"`)
        if (/[\r\n\0]/.test(v)) throw new TypeError(`h1 pool: invalid value for header "${k}"`)
        if (k.toLowerCase() === 'content-length') continue
        block += `${k}: ${v}\r\n`
      }
      this.blocks.set(h, block)
    }
    this.lastHeaders = h
    this.lastBlock = block
    return block
  }
}

export { H1ProtocolError }
