import type { Clock, Timer } from '@loadmesh/clock'
import { emptyResult } from '@loadmesh/metrics'
import type { RequestResult } from '@loadmesh/metrics'
import { Pool } from 'undici'
import { createH1Pool } from './h1-pool.ts'
import type { BodyWriter, PreparedDispatch, RequestDispatcher, ResponseHandler } from './h1-pool.ts'
import { InjectorConfigError } from './injector-config-error.ts'
import { createBodyEncoder } from './request-body.ts'
import { checkRequestSpec, isGenerative } from './request-spec.ts'
import type { Endpoint, RequestSpec } from './request-spec.ts'
import { ResponseRecorder } from './response-recorder.ts'
import { TimeoutList } from './timeout-list.ts'

export interface InjectorOptions {
  /**
   * Target base URL, e.g. `http://127.0.0.1:8000`. A path prefix is kept; a trailing `/v1` is
   * dropped because the endpoints carry it (so the OpenAI SDK style `http://host/v1` works too).
   */
  baseUrl: string
  model: string
  apiKey?: string
  /** Per-request timeout in ms, counted from the actual send (`sentAt`). */
  timeoutMs: number
  /** Keep-alive sockets in the pool; requests beyond this wait for a free socket. */
  connections: number
  clock: Clock
  /** Extra request headers; they override the injector's own. */
  headers?: Record<string, string>
  /** Tokenizer for responses without `usage`; without it a content chunk counts as one token. */
  countTokens?: (text: string) => number
  /** Called at each actual send, so live views can count `sent` before responses come back. */
  onSent?: (sentAt: number) => void
  /**
   * `auto` (default): loadmesh's own HTTP/1.1 pool for `http:` targets, undici for `https:`.
   * `undici`: undici for every target, the escape hatch if a server or proxy trips the own pool.
   */
  httpClient?: HttpClientKind
}

export type HttpClientKind = 'auto' | 'undici'
export const HTTP_CLIENT_KINDS: readonly HttpClientKind[] = Object.freeze(['auto', 'undici'] as const)

export interface InjectorStats {
  /** Requests sent and not yet settled. */
  inFlight: number
  /** Requests handed to `send`. */
  sent: number
  /** Requests settled, successfully or not. */
  completed: number
}

export interface Injector {
  /**
   * Sends one request and resolves with its result. Never rejects: every failure is a result with
   * `ok = false` and an `errorClass` (see error-classes.ts). `intendedAt` is the scheduled time the
   * latency metrics are measured from. A spec that cannot be sent at all (unknown endpoint, or
   * `stream` on embeddings / moderations) is a configuration mistake, not a request failure: it
   * throws InjectorConfigError synchronously (see `checkRequestSpec`).
   */
  send(req: RequestSpec, intendedAt: number): Promise<RequestResult>
  /**
   * Does everything for `req` but the send, ahead of it: encodes its bytes and sets a keep-alive
   * connection aside. Then `send(intendedAt)` costs one socket write; for a send many processes
   * make at one instant (a mesh plan's T0), where each one's work delays the others'. Only the own
   * HTTP/1.1 pool prepares; with undici `send` is an ordinary one. `discard` frees the connection.
   */
  prepare(req: RequestSpec): PreparedSend
  /**
   * Opens up to `connections` keep-alive connections with cheap `GET /v1/models` requests, before
   * the schedule starts: connection setup and the first use of the HTTP parser would otherwise land
   * on the first scheduled requests as schedule lag. Failures are ignored (the run reports them).
   */
  warmup(connections: number, timeoutMs?: number): Promise<void>
  /** Stops accepting requests and closes the pool once in-flight requests have settled. */
  close(): Promise<void>
  stats(): InjectorStats
}

/** A request made ready ahead of its send (Injector.prepare). */
export interface PreparedSend {
  /** Sends it, once; as Injector.send otherwise. */
  send(intendedAt: number): Promise<RequestResult>
  /** Gives its connection back unsent; nothing once sent. */
  discard(): void
}

export { InjectorConfigError }

/**
 * An OpenAI-compatible HTTP client built for measurement: one pool of keep-alive sockets
 * (pipelining 1) per target, requests dispatched with a handler object (no streams, no promise
 * per chunk), the body encoded from pre-built templates. Plain `http:` targets use our own lean
 * HTTP/1.1 pool (h1-pool.ts: about half undici's CPU per request, which is what lets one core
 * keep up with autocannon); `https:` targets use undici's Pool.
 *
 * Non-streamed responses: the whole answer arrives with the body, so `firstTokenAt` and
 * `firstContentAt` are the end of the body (when it has content), `lastTokenAt` is NaN and
 * `endAt` is the end of the body.
 */
export function createInjector(opts: InjectorOptions): Injector {
  let url: URL
  try {
    url = new URL(opts.baseUrl)
  } catch {
    throw new InjectorConfigError(`injector baseUrl: "${opts.baseUrl}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InjectorConfigError(`injector baseUrl: "${opts.baseUrl}" must be http: or https:`)
  }
  if (!Number.isInteger(opts.connections) || opts.connections < 1) {
    throw new InjectorConfigError(`injector connections: ${opts.connections} must be an integer >= 1`)
  }
  if (!(opts.timeoutMs > 0) || !Number.isFinite(opts.timeoutMs)) {
    throw new InjectorConfigError(`injector timeoutMs: ${opts.timeoutMs} must be a positive number`)
  }
  const prefix = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')
  const paths: Record<Endpoint, string> = {
    '/v1/chat/completions': `${prefix}/v1/chat/completions`,
    '/v1/completions': `${prefix}/v1/completions`,
    '/v1/embeddings': `${prefix}/v1/embeddings`,
    '/v1/moderations': `${prefix}/v1/moderations`
  }
  const clock = opts.clock
  const timeoutMs = opts.timeoutMs
  const onSent = opts.onSent
  const countTokens = opts.countTokens
  const encoder = createBodyEncoder(opts.model)
  const streamHeaders = buildHeaders(opts, 'text/event-stream')
  const plainHeaders = buildHeaders(opts, 'application/json')

  const ownPool = url.protocol === 'http:' && (opts.httpClient ?? 'auto') === 'auto'
  const pool: RequestDispatcher = ownPool
    ? createH1Pool(url, { connections: opts.connections, connectTimeoutMs: Math.min(timeoutMs, 10_000) })
    : new Pool(url.origin, {
      connections: opts.connections,
      pipelining: 1,
      // Our own timer bounds the whole request; undici's would only fire later and less precisely.
      headersTimeout: 0,
      bodyTimeout: 0,
      connectTimeout: Math.min(timeoutMs, 10_000)
    }) as unknown as RequestDispatcher

  // One timer for every request's timeout instead of a setTimeout/clearTimeout pair per request.
  const timeouts = new TimeoutList(clock)
  let closed = false
  let inFlight = 0
  let sent = 0
  let completed = 0

  function settled(): void {
    inFlight--
    completed++
  }

  function pathOf(req: RequestSpec, what: string): string {
    const path = paths[req.endpoint] as string | undefined
    if (path === undefined || (req.stream && !isGenerative(req.endpoint))) checkRequestSpec(req, what)
    return path as string
  }

  /** Our pool writes the body straight into its request buffer; undici gets a string. */
  function encodeBody(req: RequestSpec): string | BodyWriter {
    return (ownPool ? encoder.writer(req) : null) ?? encoder.encode(req)
  }

  /** One send: `prepared` when its bytes and connection are ready (prepare), else built here. */
  function start(req: RequestSpec, path: string, intendedAt: number, prepared: PreparedDispatch | null): Promise<RequestResult> {
    const result = emptyResult(intendedAt, req.endpoint, req.stream)
    return new Promise<RequestResult>((resolve) => {
      const rec = new ResponseRecorder(clock, req, result, countTokens, (r) => {
        settled()
        resolve(r)
      }, !ownPool)
      inFlight++
      sent++
      if (closed) {
        prepared?.discard()
        rec.failNow('connect', 'the injector is closed')
        return
      }
      let body: string | BodyWriter | null = null
      if (prepared === null) {
        try {
          body = encodeBody(req)
        } catch (err) {
          rec.failNow('connect', `request body could not be encoded: ${(err as Error).message}`)
          return
        }
      }
      result.sentAt = clock.now()
      onSent?.(result.sentAt)
      rec.armTimeout(timeouts, timeoutMs)
      try {
        if (prepared !== null) prepared.dispatch(rec)
        else pool.dispatch({ path, method: 'POST', headers: req.stream ? streamHeaders : plainHeaders, body: body as string | BodyWriter }, rec)
      } catch (err) {
        rec.failNow('connect', `dispatch failed: ${(err as Error).message}`)
      }
    })
  }

  return {
    send(req, intendedAt) {
      return start(req, pathOf(req, 'injector send'), intendedAt, null)
    },
    prepare(req) {
      const path = pathOf(req, 'injector prepare')
      let prepared: PreparedDispatch | null = null
      // Not preparable (undici, a closed pool, a body that does not encode): an ordinary send,
      // which reports any failure as a result.
      if (!closed && pool.prepare !== undefined) {
        try {
          prepared = pool.prepare({ path, method: 'POST', headers: req.stream ? streamHeaders : plainHeaders, body: encodeBody(req) })
        } catch {
          prepared = null
        }
      }
      let used = false
      return {
        send(intendedAt) {
          if (used) throw new InjectorConfigError('a prepared request is sent once')
          used = true
          return start(req, path, intendedAt, prepared)
        },
        discard() {
          if (used) return
          used = true
          prepared?.discard()
        }
      }
    },
    async warmup(connections, warmTimeoutMs = 5000) {
      const n = Math.max(0, Math.min(connections, opts.connections))
      // A server without /v1/models still gets its connection opened; anything worse shows up in the run.
      const one = (): Promise<void> => new Promise<void>((resolve) => {
        let timer: Timer | null = null
        const done = (): void => { timer?.cancel(); resolve() }
        const handler: ResponseHandler = {
          onRequestStart(c) { timer = clock.setTimer(() => c.abort(new Error('warm-up request timed out')), warmTimeoutMs) },
          // undici refuses a handler without it ("invalid onResponseStart method"), before connecting.
          onResponseStart() {},
          onResponseData() {},
          onResponseEnd: done,
          onResponseError: done
        }
        try {
          pool.dispatch({ path: `${prefix}/v1/models`, method: 'GET', headers: plainHeaders }, handler)
        } catch {
          resolve()
        }
      })
      await Promise.all(Array.from({ length: n }, one))
    },
    async close() {
      closed = true
      await pool.close()
      // close() waits for every request, so each has left the timeout list already.
      timeouts.clear()
    },
    stats: () => ({ inFlight, sent, completed })
  }
}

function buildHeaders(opts: InjectorOptions, accept: string): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept }
  if (opts.apiKey !== undefined && opts.apiKey !== '') h.authorization = `Bearer ${opts.apiKey}`
  if (opts.headers !== undefined) {
    for (const [k, v] of Object.entries(opts.headers)) h[k.toLowerCase()] = v
  }
  return h
}
