import type { Clock } from '@loadmesh/clock'
import type { RequestResult } from '@loadmesh/metrics'
import type { RequestController, ResponseHandler } from './h1-pool.ts'
import type { TimeoutEntry, TimeoutList } from './timeout-list.ts'
import { createSseParser, SseProtocolError } from './sse-parser.ts'
import { scanCompletionBody } from './body-scan.ts'
import type { BodyFacts } from './body-scan.ts'
import type { SseEvent, SseParser } from './sse-parser.ts'
import { clip, describeError, httpErrorMessage, isTimeoutError } from './error-classes.ts'
import type { RequestSpec } from './request-spec.ts'

type Controller = RequestController
type Headers = Record<string, string | string[] | undefined>

/** Error bodies are only read for their message; more is never needed. */
const ERROR_BODY_MAX = 4096

interface Usage {
  prompt_tokens?: unknown
  completion_tokens?: unknown
  completion_tokens_details?: { reasoning_tokens?: unknown } | null
}

/**
 * Turns one response into a `RequestResult`, as a dispatch handler (of undici's pool or ours,
 * h1-pool.ts; the contract is the same): callbacks straight from the HTTP parser, no streams and
 * no promise per chunk. One clock reading per network read; every SSE event completed by that read carries it, because that is when the
 * client could have seen the token.
 *
 * The first outcome wins (`finished`): a timeout, protocol error or abort that races with the
 * end of the response can never produce two results or resolve twice.
 */
export class ResponseRecorder implements ResponseHandler, TimeoutEntry {
  readonly result: RequestResult
  deadline = Number.NaN
  timeoutPrev: TimeoutEntry | null = null
  timeoutNext: TimeoutEntry | null = null
  private readonly clock: Clock
  private readonly req: RequestSpec
  private readonly chat: boolean
  /** The answer's array for embeddings (`data`) and moderations (`results`); null for generation. */
  private readonly answerKey: 'data' | 'results' | null
  private readonly countTokens: ((text: string) => number) | undefined
  private readonly settle: (r: RequestResult) => void
  private readonly deferSettle: boolean
  private controller: Controller | null = null
  private timeouts: TimeoutList | null = null
  private finished = false
  private status = 0
  private gotHeaders = false
  private errorBody = false
  private retryAfter: string | undefined = undefined
  private parser: SseParser | null = null
  private chunkAt = Number.NaN
  private sawDone = false
  private sawFinish = false
  private usage: Usage | null = null
  private reasoningChunks = 0
  /** Texts for the tokenizer, made on the first one: most answers carry usage and need none. */
  private texts: string[] | null = null
  private reasoningTexts: string[] | null = null
  private body: Buffer[] = []
  private bodyLen = 0

  constructor(
    clock: Clock,
    req: RequestSpec,
    result: RequestResult,
    countTokens: ((text: string) => number) | undefined,
    settle: (r: RequestResult) => void,
    deferSettle: boolean
  ) {
    this.clock = clock
    this.req = req
    this.result = result
    this.chat = req.endpoint === '/v1/chat/completions'
    this.answerKey = req.endpoint === '/v1/embeddings' ? 'data' : req.endpoint === '/v1/moderations' ? 'results' : null
    this.countTokens = countTokens
    this.settle = settle
    this.deferSettle = deferSettle
  }

  /** Starts the per-request timeout on the injector's shared list; it counts from `result.sentAt`. */
  armTimeout(list: TimeoutList, ms: number): void {
    this.timeouts = list
    list.add(this, this.result.sentAt + ms, this.result.sentAt)
  }

  /** Fails the request before or outside undici (e.g. dispatch threw, injector closed). */
  failNow(errorClass: string, message: string): void {
    this.fail(errorClass, message, false)
  }

  onRequestStart(controller: Controller): void {
    // The request waited for a connection longer than its timeout: never send it.
    if (this.finished) { controller.abort(new Error('request timed out before it was sent')); return }
    this.controller = controller
  }

  onResponseStart(_c: Controller, statusCode: number, headers: Headers): void {
    if (this.finished || statusCode < 200) return
    this.status = statusCode
    this.gotHeaders = true
    if (statusCode >= 300) {
      this.errorBody = true
      const ra = headers['retry-after']
      if (ra !== undefined) this.retryAfter = Array.isArray(ra) ? ra[0] : ra
      return
    }
    if (!this.req.stream) return
    const raw = headers['content-type']
    const ct = (Array.isArray(raw) ? raw[0] : raw) ?? ''
    if (!/^\s*text\/event-stream\s*(;|$)/i.test(ct)) {
      this.fail('bad_sse', `streamed response has content-type "${clip(ct)}", not text/event-stream`, true)
      return
    }
    this.parser = createSseParser(this.onEvent, { strict: true })
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    if (this.finished) return
    const t = this.clock.now()
    if (this.parser !== null) {
      this.chunkAt = t
      try {
        this.parser.push(chunk)
      } catch (err) {
        this.fail(err instanceof SseProtocolError ? 'bad_sse' : 'bad_json', describeError(err), true)
      }
      return
    }
    if (this.errorBody && this.bodyLen >= ERROR_BODY_MAX) return
    this.body.push(chunk)
    this.bodyLen += chunk.length
  }

  onResponseEnd(): void {
    if (this.finished) return
    this.result.endAt = this.clock.now()
    if (this.errorBody) {
      this.fail(`http_${this.status}`, httpErrorMessage(this.bodyText(), this.retryAfter), false)
    } else if (this.parser !== null) {
      const midEvent = this.parser.end()
      if (!this.sawDone && !this.sawFinish) {
        this.fail('stream_aborted', `stream ended without [DONE] or a finish_reason${midEvent ? ', in the middle of an event' : ''}`, false)
      } else {
        this.succeed()
      }
    } else {
      this.completeBody()
    }
  }

  onResponseError(_c: Controller | undefined, err: Error): void {
    if (this.finished) return
    // Everything arrived; only the end of the HTTP body was lost. The answer is complete.
    if (this.sawDone) {
      this.result.endAt = this.clock.now()
      this.succeed()
      return
    }
    if (isTimeoutError(err)) this.fail('timeout', describeError(err), false)
    else if (!this.gotHeaders) this.fail('connect', describeError(err), false)
    else if (this.errorBody) {
      this.fail(`http_${this.status}`, `${httpErrorMessage(this.bodyText(), this.retryAfter)}; body cut: ${describeError(err)}`, false)
    } else this.fail('stream_aborted', describeError(err), false)
  }

  onTimeout(): void {
    this.timeouts = null
    if (this.finished) return
    this.fail('timeout', `no complete response within the request timeout`, true)
  }

  private readonly onEvent = (e: SseEvent): void => {
    if (this.finished || this.sawDone) return
    if (e.event === 'error') {
      this.fail('sse_error', `event: error: ${sseErrorMessage(e.data)}`, true)
      return
    }
    // Other named events are not part of the OpenAI protocol; a client ignores them.
    if (e.event !== 'message') return
    const data = e.data
    if (data === '[DONE]') { this.sawDone = true; return }
    let chunk: unknown
    try {
      chunk = JSON.parse(data)
    } catch {
      this.fail('bad_json', `data payload is not JSON: ${clip(data)}`, true)
      return
    }
    if (chunk === null || typeof chunk !== 'object') {
      this.fail('bad_json', `data payload is not a JSON object: ${clip(data)}`, true)
      return
    }
    const o = chunk as Record<string, unknown>
    if (o.error !== undefined && o.error !== null) {
      this.fail('sse_error', `error in stream: ${errorObjectMessage(o.error)}`, true)
      return
    }
    const choices = o.choices
    if (!Array.isArray(choices)) {
      this.fail('bad_json', `data payload lacks choices: ${clip(data)}`, true)
      return
    }
    if (o.usage !== null && typeof o.usage === 'object') this.usage = o.usage as Usage
    let text = false
    let reasoning = false
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i] as Record<string, unknown> | null
      if (c === null || typeof c !== 'object') continue
      if (c.finish_reason !== undefined && c.finish_reason !== null) this.sawFinish = true
      if (this.chat) {
        const d = c.delta as Record<string, unknown> | null | undefined
        if (d === null || typeof d !== 'object') continue
        if (this.noteText(d.content)) text = true
        if (this.noteReasoning(d.reasoning_content) || this.noteReasoning(d.reasoning)) reasoning = true
      } else if (this.noteText(c.text)) text = true
    }
    if (!text && !reasoning) return
    const t = this.chunkAt
    const r = this.result
    if (Number.isNaN(r.firstTokenAt)) r.firstTokenAt = t
    if (text && Number.isNaN(r.firstContentAt)) r.firstContentAt = t
    if (!Number.isNaN(r.lastTokenAt)) r.itls.push(t - r.lastTokenAt)
    r.lastTokenAt = t
    r.contentChunks++
    if (reasoning) this.reasoningChunks++
  }

  private noteText(v: unknown): boolean {
    if (typeof v !== 'string' || v.length === 0) return false
    if (this.countTokens !== undefined) this.texts = pushed(this.texts, v)
    return true
  }

  private noteReasoning(v: unknown): boolean {
    if (typeof v !== 'string' || v.length === 0) return false
    if (this.countTokens !== undefined) {
      this.texts = pushed(this.texts, v)
      this.reasoningTexts = pushed(this.reasoningTexts, v)
    }
    return true
  }

  private completeBody(): void {
    if (this.answerKey === null && this.body.length > 0) {
      const buf = this.body.length === 1 ? this.body[0] as Buffer : Buffer.concat(this.body, this.bodyLen)
      const facts = scanCompletionBody(buf, this.chat)
      if (facts !== null) { this.completeFromFacts(facts); return }
    }
    const text = this.bodyText()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      this.fail('bad_json', `response body is not JSON: ${clip(text)}`, false)
      return
    }
    const o = (body !== null && typeof body === 'object' ? body : {}) as Record<string, unknown>
    if (this.answerKey !== null) {
      this.completePrefillOnly(o, text, this.answerKey)
      return
    }
    const choices = o.choices
    if (!Array.isArray(choices)) {
      const why = o.error !== undefined && o.error !== null ? `error: ${errorObjectMessage(o.error)}` : clip(text)
      this.fail('bad_json', `response body lacks choices: ${why}`, false)
      return
    }
    if (o.usage !== null && typeof o.usage === 'object') this.usage = o.usage as Usage
    let text2 = false
    let reasoning = false
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i] as Record<string, unknown> | null
      if (c === null || typeof c !== 'object') continue
      if (this.chat) {
        const m = c.message as Record<string, unknown> | null | undefined
        if (m === null || typeof m !== 'object') continue
        if (this.noteText(m.content)) text2 = true
        if (this.noteReasoning(m.reasoning_content) || this.noteReasoning(m.reasoning)) reasoning = true
      } else if (this.noteText(c.text)) text2 = true
    }
    this.answered(text2, reasoning)
  }

  /** What body-scan.ts found, taken as JSON.parse's path would take the same body. */
  private completeFromFacts(f: BodyFacts): void {
    this.usage = {
      prompt_tokens: f.promptTokens,
      completion_tokens: f.completionTokens,
      completion_tokens_details: f.reasoningTokens === undefined ? null : { reasoning_tokens: f.reasoningTokens }
    }
    this.answered(f.text, f.reasoning)
  }

  private answered(text: boolean, reasoning: boolean): void {
    // The whole answer arrives with the body: its end is when the client had the first token.
    const r = this.result
    if (text || reasoning) {
      r.firstTokenAt = r.endAt
      r.contentChunks = 1
      if (reasoning) this.reasoningChunks = 1
    }
    if (text) r.firstContentAt = r.endAt
    this.succeed()
  }

  /**
   * Embeddings and moderations generate nothing: the answer arrives whole with the body, so its end
   * is both the first "token" (TTFT = E2E) and the last; 0 output tokens and no chunks, so ITL and
   * TPOT stay undefined (derive-metrics only computes TPOT for streams with more than one token).
   * Embeddings report `usage.prompt_tokens`; moderations have no usage, so the spec's count stands.
   */
  private completePrefillOnly(o: Record<string, unknown>, text: string, key: 'data' | 'results'): void {
    if (!Array.isArray(o[key])) {
      const why = o.error !== undefined && o.error !== null ? `error: ${errorObjectMessage(o.error)}` : clip(text)
      this.fail('bad_json', `response body lacks ${key}: ${why}`, false)
      return
    }
    if (o.usage !== null && typeof o.usage === 'object') this.usage = o.usage as Usage
    const r = this.result
    r.firstTokenAt = r.endAt
    r.firstContentAt = r.endAt
    this.succeed()
  }

  private bodyText(): string {
    if (this.body.length === 0) return ''
    const buf = this.body.length === 1 ? this.body[0] : Buffer.concat(this.body, this.bodyLen)
    return buf.toString('utf8', 0, this.errorBody ? Math.min(buf.length, ERROR_BODY_MAX) : buf.length)
  }

  private succeed(): void {
    this.result.ok = true
    this.finish()
  }

  private fail(errorClass: string, message: string, abort: boolean): void {
    if (this.finished) return
    const r = this.result
    r.ok = false
    r.errorClass = errorClass
    r.errorMessage = message
    if (Number.isNaN(r.endAt)) r.endAt = this.clock.now()
    this.finish()
    // Aborting makes undici call onResponseError, which `finished` turns into a no-op. A request
    // still queued for a connection has no controller yet; onRequestStart aborts it.
    if (abort && this.controller !== null && !this.controller.aborted) {
      this.controller.abort(new Error(`aborted by the injector: ${errorClass}`))
    }
  }

  private finish(): void {
    this.finished = true
    if (this.timeouts !== null) { this.timeouts.remove(this); this.timeouts = null }
    this.parser = null
    this.body = []
    this.countOutputs()
    // With pipelining 1, undici hands a keep-alive socket to the next request only one
    // setImmediate after the response ended (to notice servers that close anyway). Resolving two
    // turns later lets a caller that sends again at once reuse that socket instead of opening a
    // new one. All timestamps are taken already, so the delay costs no accuracy. Our own pool
    // frees the socket before the end reaches us, so it needs no delay.
    if (this.deferSettle) setImmediate(this.settleSoon)
    else this.settle(this.result)
  }

  private readonly settleSoon = (): void => {
    setImmediate(this.settleNow)
  }

  private readonly settleNow = (): void => {
    this.settle(this.result)
  }

  private countOutputs(): void {
    const r = this.result
    const u = this.usage
    r.inputTokens = u !== null && typeof u.prompt_tokens === 'number' ? u.prompt_tokens : this.req.inputTokens
    if (this.answerKey !== null) {
      // Nothing is generated; a usage object (embeddings) is the server's word for that.
      r.outputTokens = 0
      r.outputTokensSource = u !== null ? 'usage' : 'counted'
      r.reasoningTokens = 0
    } else if (u !== null && typeof u.completion_tokens === 'number') {
      r.outputTokens = u.completion_tokens
      r.outputTokensSource = 'usage'
      const rt = u.completion_tokens_details?.reasoning_tokens
      r.reasoningTokens = typeof rt === 'number' ? rt : this.counted(this.reasoningTexts, this.reasoningChunks)
    } else {
      r.outputTokens = this.counted(this.texts, r.contentChunks)
      r.outputTokensSource = 'counted'
      r.reasoningTokens = this.counted(this.reasoningTexts, this.reasoningChunks)
    }
  }

  /** Tokens of `texts` by the caller's tokenizer, or the chunk count when there is none. */
  private counted(texts: string[] | null, chunks: number): number {
    if (this.countTokens === undefined) return chunks
    if (texts === null || texts.length === 0) return 0
    try {
      return this.countTokens(texts.join(''))
    } catch {
      // A broken tokenizer must not lose the result.
      return chunks
    }
  }
}

function pushed(list: string[] | null, v: string): string[] {
  if (list === null) return [v]
  list.push(v)
  return list
}

function errorObjectMessage(e: unknown): string {
  if (typeof e === 'string') return clip(e)
  if (e !== null && typeof e === 'object') {
    const m = (e as Record<string, unknown>).message
    if (typeof m === 'string') return clip(m)
  }
  return clip(JSON.stringify(e) ?? String(e))
}

function sseErrorMessage(data: string): string {
  try {
    const j = JSON.parse(data) as unknown
    if (j !== null && typeof j === 'object' && 'error' in j) return errorObjectMessage((j as Record<string, unknown>).error)
    return errorObjectMessage(j)
  } catch {
    return clip(data)
  }
}
