import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Clock, Timer } from '@loadmesh/clock'
import { errorBody } from './api-error.ts'
import type { Engine, FinishReason, RequestTimings, SimError, SimRequest, TokenSink } from './engine.ts'
import type { RateFault } from './fault-config.ts'
import type { FaultController } from './fault-controller.ts'
import type { FrameFlusher, PendingStream } from './frame-flusher.ts'
import { completeResponse } from './openai-frames.ts'
import type { ResponseMeta, StreamFramer } from './openai-frames.ts'
import type { SimMetrics } from './sim-metrics.ts'

/** What every exchange shares: one object per simulator, so a request carries a single reference. */
export interface ServerContext {
  clock: Clock
  engine: Engine
  metrics: SimMetrics
  faults: FaultController
  flusher: FrameFlusher
  stats: { requests: number; tokens: number; errors: number; cancelled: number; faults: number }
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }
const NOOP = (): void => {}

export function sendJson(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra })
  res.end(body)
}

export function sendError(
  c: ServerContext, res: ServerResponse, status: number, message: string, type: string, param: string | null, code: string | null, extra?: Record<string, string>
): void {
  c.stats.errors++
  sendJson(res, status, errorBody(message, type, param, code), extra)
}

export function retryAfter(s: number | undefined): Record<string, string> | undefined {
  return s === undefined ? undefined : { 'retry-after': String(s) }
}

/** The error a per-request status fault answers with. */
export function statusFault(c: ServerContext, res: ServerResponse, f: RateFault | { kind: 'http_400' }, maxModelLen: number, promptTokens: number): void {
  c.faults.count(f.kind)
  c.stats.faults++
  if (f.kind === 'http_429') {
    sendError(c, res, 429, `Rate limit reached (simulated fault http_429). Please try again in ${f.retryAfterS ?? 1}s.`, 'requests', null, 'rate_limit_exceeded', retryAfter(f.retryAfterS ?? 1))
  } else if (f.kind === 'http_503') {
    sendError(c, res, 503, 'The server is overloaded or not ready yet (simulated fault http_503).', 'service_unavailable', null, null, retryAfter(f.retryAfterS ?? 1))
  } else if (f.kind === 'http_500') {
    sendError(c, res, 500, 'The server had an error while processing your request (simulated fault http_500).', 'server_error', null, null)
  } else {
    sendError(c, res, 400, `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${maxModelLen + 1} tokens (${promptTokens} in the messages, ${maxModelLen + 1 - promptTokens} in the completion). Please reduce the length of the messages or completion. (simulated fault http_400)`, 'invalid_request_error', 'messages', 'context_length_exceeded')
  }
}

/**
 * One accepted API request from the moment its body is parsed to the moment its response ends or
 * its client leaves. It is the engine's sink itself (no closures per request), plays the request's
 * fault, and records the request's metrics.
 */
abstract class Exchange implements TokenSink {
  readonly c: ServerContext
  readonly res: ServerResponse
  readonly fault: RateFault | undefined
  readonly arrivalAt: number
  settled = false
  /** Accepted by the engine (an error after this is a failure, not a refusal). */
  admitted = false
  cancel: () => void = NOOP
  hang: Timer | undefined = undefined

  constructor(c: ServerContext, res: ServerResponse, fault: RateFault | undefined, arrivalAt: number) {
    this.c = c
    this.res = res
    this.fault = fault
    this.arrivalAt = arrivalAt
  }

  abstract onTokens(n: number): void
  abstract onDone(reason: FinishReason, timings?: RequestTimings): void
  abstract onError(err: SimError): void
  /** Hands the request to the engine. */
  protected abstract submit(): void
  /** Plays a disconnect or sse_error fault now. */
  protected abstract trigger(): void
  protected abstract get streaming(): boolean

  /** Starts the exchange: the fault that comes before the engine, then the engine. */
  begin(): void {
    const c = this.c
    c.stats.requests++
    if (this.res.destroyed) {
      // The client left while its body was being parsed.
      this.settled = true
      c.stats.cancelled++
      return
    }
    c.metrics.openStreams++
    this.res.on('close', this.onClose)
    const f = this.fault
    if (f !== undefined) {
      c.faults.count(f.kind)
      c.stats.faults++
    }
    if (f?.kind === 'hang_before_headers' || (f?.kind === 'hang_before_first_token' && !this.streaming)) {
      this.hangFor(f.durationMs, () => { this.proceed() })
      return
    }
    if (f?.kind === 'hang_before_first_token') {
      this.writeHeaders()
      this.hangFor(f.durationMs, () => { this.proceed() })
      return
    }
    this.proceed()
  }

  /** Set when a hang delayed the hand-off: the engine then sees the request arrive when the hang ends. */
  protected hung = false

  private proceed(): void {
    if (this.settled) return
    const f = this.fault
    if ((f?.kind === 'disconnect' || f?.kind === 'sse_error') && f.afterTokens === 0) {
      if (this.streaming) this.writeHeaders()
      this.trigger()
      return
    }
    this.submit()
  }

  /** A hang: nothing happens until `ms` has passed (then `then`), or forever when ms is undefined. */
  private hangFor(ms: number | undefined, then: () => void): void {
    if (ms === undefined) return
    this.hang = this.c.clock.setTimer(() => { this.hang = undefined; this.hung = true; then() }, ms)
  }

  protected writeHeaders(): void {
    if (this.res.headersSent) return
    this.res.writeHead(200, SSE_HEADERS)
    this.res.flushHeaders()
  }

  /** Ends the connection without finishing the response: the client sees the body cut short. */
  protected cut(): void {
    const socket = this.res.socket
    // end(), not destroy(): what was written goes out first, then the FIN.
    if (socket !== null) socket.end()
    else this.res.destroy()
  }

  private readonly onClose = (): void => {
    this.c.metrics.openStreams--
    this.hang?.cancel()
    this.hang = undefined
    if (this.settled) return
    this.settled = true
    this.c.stats.cancelled++
    if (this.admitted) this.c.metrics.finished.abort++
    this.cancel()
  }

  /** Answers an error: an HTTP status before any byte went out, an SSE error event after. */
  protected fail(err: SimError, streamTail: string): void {
    const res = this.res
    if (res.headersSent) {
      this.c.stats.errors++
      res.end(streamTail)
    } else {
      sendError(this.c, res, err.status, err.message, err.type, null, err.code ?? null, retryAfter(err.retryAfterS))
    }
  }
}

/** chat/completions and completions, streamed or not. */
export class GenerationExchange extends Exchange implements PendingStream {
  readonly req: SimRequest
  readonly meta: ResponseMeta
  readonly framer: StreamFramer | undefined
  emitted = 0
  /** Tokens whose frames went to the socket (streams only). */
  written = 0
  firstAt = Number.NaN
  lastAt = Number.NaN
  blocked = false
  /** Waiting for the flusher (see FrameFlusher): tokens counted since the last frame go out together. */
  queued = false
  sock: Socket | null = null

  constructor(c: ServerContext, res: ServerResponse, fault: RateFault | undefined, req: SimRequest, meta: ResponseMeta, framer: StreamFramer | undefined) {
    super(c, res, fault, req.arrivalAt)
    this.req = req
    this.meta = meta
    this.framer = framer
  }

  protected get streaming(): boolean { return this.framer !== undefined }

  protected submit(): void {
    // The engine's TTFT starts when it gets the request; the client's (and /metrics') counts the hang too.
    if (this.hung) this.req.arrivalAt = this.c.clock.now()
    this.cancel = this.c.engine.submit(this.req, this)
    if (this.settled) return // refused at admission: already answered with its status
    this.admitted = true
    // Headers go out now, as vLLM's StreamingResponse does; the role chunk waits for the first token.
    if (this.framer !== undefined) this.writeHeaders()
  }

  onTokens(n: number): void {
    if (this.settled) return
    const c = this.c
    const now = c.clock.now()
    if (this.emitted === 0) {
      this.firstAt = now
      c.metrics.ttft.observe((now - this.arrivalAt) / 1000)
    } else {
      c.metrics.itl.observe((now - this.lastAt) / n / 1000, n)
    }
    this.lastAt = now
    this.emitted += n
    c.stats.tokens += n
    const f = this.fault
    if ((f?.kind === 'disconnect' || f?.kind === 'sse_error') && this.emitted >= (f.afterTokens ?? 1)) {
      this.trigger()
      return
    }
    // A blocked stream writes on 'drain'; the others once per tick, whatever the tick released.
    if (this.framer !== undefined && !this.blocked) this.c.flusher.add(this)
  }

  flush(): void {
    if (this.settled || this.blocked) return
    if (!this.write(this.emitted)) this.block()
  }

  /**
   * The frame for the tokens not yet written, up to `upTo`: ONE chunk whatever their number. The
   * engine already releases tokens in groups of tokens-per-chunk; more than that pending means the
   * engine got ahead of the writes (a late tick, a slow client) and they merge, as vLLM merges them.
   */
  private frames(upTo: number): string {
    const n = upTo - this.written
    if (n <= 0) return ''
    const from = this.written
    this.written = upTo
    this.c.metrics.frames++
    return (this.framer as StreamFramer).merged(from, n)
  }

  /**
   * Frames go straight to the socket as one HTTP chunk (length, frames, CRLF) in one write call:
   * ServerResponse.write would cork the socket, uncork it on the next tick and write three buffers,
   * which costs as much as the system call itself. The response's own end() later writes the last
   * chunk and the terminator, so the HTTP framing stays Node's.
   */
  private write(upTo: number): boolean {
    const s = this.frames(upTo)
    if (s === '') return true
    const sock = this.sock
    if (sock === null) return this.res.write(s)
    const len = (this.framer as StreamFramer).ascii ? s.length : Buffer.byteLength(s)
    return sock.write(`${len.toString(16)}\r\n${s}\r\n`)
  }

  protected override writeHeaders(): void {
    if (this.res.headersSent) return
    super.writeHeaders()
    const sock = this.res.socket
    // Only while this response owns the connection (not a pipelined one waiting its turn).
    this.sock = sock !== null && (sock as Socket & { _httpMessage?: unknown })._httpMessage === this.res ? sock : null
  }

  /**
   * The socket took no more: tokens that come out meanwhile are only counted (no frames are built or
   * buffered), and are sent as one merged chunk when it drains. Memory stays bounded whatever the
   * client's speed, and the client sees what a slow reader of vLLM sees: fewer, bigger chunks.
   */
  private block(): void {
    this.blocked = true
    this.c.metrics.backpressure++
    if (this.sock !== null) this.sock.once('drain', this.onDrain)
    else this.res.once('drain', this.onDrain)
  }

  private readonly onDrain = (): void => {
    if (this.settled) return
    const ok = this.write(this.emitted)
    this.blocked = false
    if (!ok) this.block()
  }

  /** The socket outlives the response (keep-alive): leave no listener of ours on it. */
  private release(): void {
    if (this.blocked && this.sock !== null) this.sock.off('drain', this.onDrain)
  }

  onDone(reason: FinishReason, timings?: RequestTimings): void {
    if (this.settled) return
    const f = this.fault
    if (f?.kind === 'disconnect' || f?.kind === 'sse_error') {
      // The answer was shorter than k tokens: the fault hits at its end instead.
      this.trigger()
      return
    }
    this.settled = true
    const c = this.c
    const m = c.metrics
    const now = c.clock.now()
    m.e2e.observe((now - this.arrivalAt) / 1000)
    if (this.emitted > 1) m.tpot.observe((now - this.firstAt) / (this.emitted - 1) / 1000)
    m.promptTokens.observe(this.req.promptTokens)
    m.generationTokens.observe(this.emitted)
    m.finished[reason]++
    if (timings !== undefined) m.timings(timings)
    const cached = timings?.cachedPromptTokens
    if (this.framer !== undefined) {
      this.release()
      this.res.end(this.frames(this.emitted) + this.framer.finish(reason, this.emitted, cached))
    } else {
      sendJson(this.res, 200, completeResponse(this.meta, reason, this.emitted, cached))
    }
  }

  onError(err: SimError): void {
    if (this.settled) return
    this.settled = true
    if (this.admitted) this.c.metrics.finished.error++
    this.release()
    this.fail(err, this.framer === undefined ? '' : this.frames(this.emitted) + this.framer.error(err))
  }

  protected trigger(): void {
    const f = this.fault as RateFault
    const k = Math.min(f.afterTokens ?? 1, this.emitted)
    this.settled = true
    this.cancel()
    this.release()
    const c = this.c
    c.metrics.finished.error++
    if (f.kind === 'sse_error') {
      const err: SimError = { status: 500, type: 'server_error', message: `The server had an error while generating the response (simulated fault sse_error after ${k} tokens).`, code: null }
      if (this.framer !== undefined) {
        c.stats.errors++
        this.res.end(this.frames(k) + this.framer.error(err))
      } else {
        sendError(c, this.res, err.status, err.message, err.type, null, null)
      }
      return
    }
    // disconnect
    if (this.framer !== undefined) {
      const s = this.frames(k)
      if (s !== '') this.res.write(s)
    } else {
      const body = completeResponse(this.meta, 'length', k)
      this.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      this.res.write(body.slice(0, body.length >> 1))
    }
    this.cut()
  }
}

/** embeddings and moderations: every input is a prefill-only engine request; the answer comes when all are done. */
export class PooledExchange extends Exchange {
  readonly reqs: SimRequest[]
  readonly body: () => string
  readonly promptTokens: number
  private left: number
  private readonly cancels: Array<() => void> = []

  constructor(c: ServerContext, res: ServerResponse, fault: RateFault | undefined, arrivalAt: number, reqs: SimRequest[], body: () => string) {
    super(c, res, fault, arrivalAt)
    this.reqs = reqs
    this.body = body
    this.left = reqs.length
    this.promptTokens = reqs.reduce((s, r) => s + r.promptTokens, 0)
    this.cancel = () => { for (const x of this.cancels) x() }
  }

  protected get streaming(): boolean { return false }

  protected submit(): void {
    const now = this.c.clock.now()
    for (const r of this.reqs) {
      if (this.hung) r.arrivalAt = now
      this.cancels.push(this.c.engine.submit(r, this))
      if (this.settled) {
        this.cancel()
        return
      }
    }
    this.admitted = true
  }

  onTokens(): void {}

  onDone(_reason: FinishReason, timings?: RequestTimings): void {
    if (this.settled) return
    if (timings !== undefined) this.c.metrics.timings(timings)
    if (--this.left > 0) return
    const f = this.fault
    if (f?.kind === 'disconnect' || f?.kind === 'sse_error') {
      this.trigger()
      return
    }
    this.settled = true
    const m = this.c.metrics
    m.e2e.observe((this.c.clock.now() - this.arrivalAt) / 1000)
    m.promptTokens.observe(this.promptTokens)
    m.generationTokens.observe(0)
    m.finished.stop++
    sendJson(this.res, 200, this.body())
  }

  onError(err: SimError): void {
    if (this.settled) return
    this.settled = true
    if (this.admitted) this.c.metrics.finished.error++
    this.cancel()
    this.fail(err, '')
  }

  protected trigger(): void {
    const f = this.fault as RateFault
    this.settled = true
    this.cancel()
    this.c.metrics.finished.error++
    if (f.kind === 'sse_error') {
      sendError(this.c, this.res, 500, 'The server had an error while processing your request (simulated fault sse_error).', 'server_error', null, null)
      return
    }
    const body = this.body()
    this.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    this.res.write(body.slice(0, body.length >> 1))
    this.cut()
  }
}
