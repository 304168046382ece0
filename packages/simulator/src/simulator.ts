import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { systemClock } from '@loadmesh/clock'
import type { Clock } from '@loadmesh/clock'
import { countTokens, createLengthSampler, createRng, parseLengthSpec } from '@loadmesh/workload'
import type { DurationSpec, LengthSpec } from '@loadmesh/workload'
import { ApiRequestError, errorBody } from './api-error.ts'
import type { Engine, EngineFactory, SimEndpoint, SimError, SimRequest, TokenSink } from './engine.ts'
import { SimulatorConfigError } from './errors.ts'
import { createFixedEngine } from './fixed-engine.ts'
import { createSampledLatency } from './latency-model.ts'
import { completeResponse, createStreamFramer } from './openai-frames.ts'
import type { ResponseMeta } from './openai-frames.ts'
import { DEFAULT_OUTPUT_TOKENS, resolveOutputLength } from './output-length.ts'
import { createTextSource } from './output-text.ts'
import { parseGenerationRequest } from './parse-request.ts'

/** The `fixed` engine: every request independent, TTFT and ITL sampled from duration specs. */
export interface FixedEngineConfig {
  kind?: 'fixed'
  ttft: DurationSpec | string
  itl: DurationSpec | string
}

export interface SimulatorOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  clock?: Clock
  /** Seeds latencies, output lengths, text and ids; default 1. */
  seed?: number | string
  /** Names served by /v1/models; the first answers requests without `model`. Default ['loadmesh-sim']. */
  models?: string[]
  /** Answer for any model name (echoed back) instead of 404 model_not_found; default true. */
  acceptAnyModel?: boolean
  /** Fixed-engine latencies (default ttft 10ms, itl 5ms), or a factory for another engine. */
  engine?: FixedEngineConfig | EngineFactory
  /** The model's "natural" output length; capped by max_tokens. Absent: answers run to max_tokens. */
  outputTokens?: LengthSpec | string
  /** Output length when a request has no max_tokens and no outputTokens spec is set; default 256. */
  defaultMaxTokens?: number
  /** Tokens per SSE content chunk; default 1. */
  tokensPerChunk?: number
  /** Counts prompt tokens; default @loadmesh/workload countTokens (exact, ~0.25 ms per 1k tokens). */
  countPromptTokens?: (text: string) => number
  /** Largest accepted request body; default 32 MiB. */
  maxBodyBytes?: number
  /** Idle keep-alive time before the server closes a connection; default 60 s. */
  keepAliveTimeoutMs?: number
}

export interface SimulatorStats {
  /** Generation requests accepted (valid, handed to the engine). */
  requests: number
  /** Requests the engine holds right now. */
  active: number
  /** Output tokens sent. */
  tokens: number
  /** Error responses of any kind (4xx, 5xx, in-stream errors). */
  errors: number
  /** Requests abandoned by their client before the end. */
  cancelled: number
}

export interface Simulator {
  start(): Promise<{ url: string; port: number }>
  /** Fails what is in flight, closes every socket (keep-alive included) and resolves. */
  stop(): Promise<void>
  stats(): SimulatorStats
}

const DEFAULT_ENGINE: FixedEngineConfig = { kind: 'fixed', ttft: '10ms', itl: '5ms' }
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }
const GENERATION: ReadonlyMap<string, SimEndpoint> = new Map<string, SimEndpoint>([
  ['/v1/chat/completions', '/v1/chat/completions'],
  ['/v1/completions', '/v1/completions']
])

function positiveInt(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1) throw new SimulatorConfigError(`simulator ${what}: must be a positive integer, got ${value}`)
  return value
}

/** An OpenAI-compatible HTTP server whose timing comes from a pluggable engine. */
export function createSimulator(opts: SimulatorOptions = {}): Simulator {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SimulatorConfigError(`simulator port: must be 0..65535, got ${port}`)
  const clock = opts.clock ?? systemClock()
  const models = opts.models ?? ['loadmesh-sim']
  if (models.length === 0 || models.some((m) => typeof m !== 'string' || m.length === 0)) {
    throw new SimulatorConfigError(`simulator models: expected non-empty names, got ${JSON.stringify(models)}`)
  }
  const acceptAnyModel = opts.acceptAnyModel ?? true
  const tokensPerChunk = positiveInt(opts.tokensPerChunk, 1, 'tokensPerChunk')
  const defaultMaxTokens = positiveInt(opts.defaultMaxTokens, DEFAULT_OUTPUT_TOKENS, 'defaultMaxTokens')
  const maxBodyBytes = positiveInt(opts.maxBodyBytes, 32 * 1024 * 1024, 'maxBodyBytes')
  const countPrompt = opts.countPromptTokens ?? countTokens

  const rng = createRng(opts.seed ?? 1)
  const text = createTextSource(rng.split('text'))
  const idTag = rng.split('ids').nextU32().toString(16).padStart(8, '0')
  let outputSample: (() => number) | undefined
  if (opts.outputTokens !== undefined) {
    const spec = typeof opts.outputTokens === 'string' ? parseLengthSpec(opts.outputTokens, 'simulator outputTokens') : opts.outputTokens
    const sampler = createLengthSampler(spec, rng.split('output_tokens'))
    outputSample = () => sampler.sample()
  }
  const engineOpt = opts.engine ?? DEFAULT_ENGINE
  if (typeof engineOpt !== 'function' && engineOpt.kind !== undefined && engineOpt.kind !== 'fixed') {
    throw new SimulatorConfigError(`simulator engine: unknown kind "${String(engineOpt.kind)}" (valid: fixed, or pass a factory)`)
  }
  const engine: Engine = typeof engineOpt === 'function'
    ? engineOpt({ clock, rng: rng.split('engine'), tokensPerChunk })
    : createFixedEngine({ clock, latency: createSampledLatency(engineOpt, rng.split('latency')), tokensPerEmit: tokensPerChunk })

  const stats = { requests: 0, tokens: 0, errors: 0, cancelled: 0 }
  let seq = 0

  const sendJson = (res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra })
    res.end(body)
  }
  const sendError = (res: ServerResponse, status: number, message: string, type: string, param: string | null, code: string | null, extra?: Record<string, string>): void => {
    stats.errors++
    sendJson(res, status, errorBody(message, type, param, code), extra)
  }

  const generate = (endpoint: SimEndpoint, raw: string, arrivalAt: number, res: ServerResponse): void => {
    let parsed: ReturnType<typeof parseGenerationRequest>
    try {
      parsed = parseGenerationRequest(endpoint, raw, countPrompt)
    } catch (err) {
      if (!(err instanceof ApiRequestError)) throw err
      sendError(res, err.status, err.message, err.type, err.param, err.apiCode)
      return
    }
    const model = parsed.model ?? models[0]
    if (!acceptAnyModel && !models.includes(model)) {
      sendError(res, 404, `The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model', 'model_not_found')
      return
    }
    const length = resolveOutputLength({ maxTokens: parsed.maxTokens, ignoreEos: parsed.ignoreEos }, outputSample, defaultMaxTokens)
    const id = `${endpoint === '/v1/chat/completions' ? 'chatcmpl' : 'cmpl'}-${idTag}${(seq++).toString(36)}`
    const simReq: SimRequest = {
      id,
      endpoint,
      model,
      promptTokens: parsed.promptTokens,
      outputTokens: length.tokens,
      finishReason: length.finishReason,
      stream: parsed.stream,
      arrivalAt
    }
    const meta: ResponseMeta = {
      endpoint,
      id,
      created: Math.floor(clock.wallNow() / 1000),
      model,
      promptTokens: parsed.promptTokens,
      text,
      origin: text.origin()
    }
    stats.requests++
    let emitted = 0
    let settled = false
    const framer = parsed.stream ? createStreamFramer(meta, parsed.includeUsage, tokensPerChunk) : undefined
    const fail = (err: SimError): void => {
      settled = true
      if (res.headersSent) {
        stats.errors++
        res.end(framer === undefined ? undefined : framer.error(err))
      } else {
        sendError(res, err.status, err.message, err.type, null, err.code ?? null)
      }
    }
    const sink: TokenSink = framer !== undefined
      ? {
          onTokens(n) {
            if (settled) return
            res.write(framer.tokens(emitted, n))
            emitted += n
            stats.tokens += n
          },
          onDone(reason) {
            if (settled) return
            settled = true
            res.end(framer.finish(reason, emitted))
          },
          onError(err) { if (!settled) fail(err) }
        }
      : {
          onTokens(n) {
            if (settled) return
            emitted += n
            stats.tokens += n
          },
          onDone(reason) {
            if (settled) return
            settled = true
            sendJson(res, 200, completeResponse(meta, reason, emitted))
          },
          onError(err) { if (!settled) fail(err) }
        }

    const cancel = engine.submit(simReq, sink)
    if (settled) return // refused at admission: already answered with its status
    if (framer !== undefined) {
      // Headers go out now, as vLLM's StreamingResponse does; the role chunk waits for the first token.
      res.writeHead(200, SSE_HEADERS)
      res.flushHeaders()
    }
    const abandon = (): void => {
      if (settled) return
      settled = true
      stats.cancelled++
      cancel()
    }
    // The client may already be gone (its 'close' fired while the body was parsed).
    if (res.destroyed) abandon()
    else res.on('close', abandon)
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    const method = req.method ?? 'GET'
    const endpoint = GENERATION.get(path)
    if (endpoint !== undefined) {
      if (method !== 'POST') {
        sendError(res, 405, `Method ${method} is not allowed for ${path}; use POST.`, 'invalid_request_error', null, 'method_not_allowed', { allow: 'POST' })
        return
      }
      readBody(req, res, endpoint)
      return
    }
    const isGet = method === 'GET' || method === 'HEAD'
    if (path === '/health' || path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (!isGet) {
        sendError(res, 405, `Method ${method} is not allowed for ${path}; use GET.`, 'invalid_request_error', null, 'method_not_allowed', { allow: 'GET, HEAD' })
        return
      }
      if (path === '/health') {
        res.writeHead(200, { 'content-length': 0 })
        res.end()
        return
      }
      const created = Math.floor(clock.wallNow() / 1000)
      const card = (id: string): object => ({ id, object: 'model', created, owned_by: 'loadmesh' })
      if (path === '/v1/models') {
        sendJson(res, 200, JSON.stringify({ object: 'list', data: models.map(card) }))
        return
      }
      const id = decodeURIComponent(path.slice('/v1/models/'.length))
      if (models.includes(id)) sendJson(res, 200, JSON.stringify(card(id)))
      else sendError(res, 404, `The model \`${id}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model', 'model_not_found')
      return
    }
    sendError(res, 404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null, 'unknown_url')
  }

  const readBody = (req: IncomingMessage, res: ServerResponse, endpoint: SimEndpoint): void => {
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return
      size += chunk.length
      if (size > maxBodyBytes) {
        tooLarge = true
        chunks.length = 0
        // The rest of the body would be read into nothing; closing is cheaper than draining it.
        sendError(res, 413, `Request body for ${endpoint} exceeds ${maxBodyBytes} bytes.`, 'invalid_request_error', null, 'request_too_large', { connection: 'close' })
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (tooLarge) return
      // Arrival is stamped before parsing: prompt tokenisation is server time, inside TTFT, as on a real server.
      const arrivalAt = clock.now()
      const raw = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')
      generate(endpoint, raw, arrivalAt, res)
    })
  }

  const server = createServer({ keepAlive: true, noDelay: true }, handle)
  server.keepAliveTimeout = positiveInt(opts.keepAliveTimeoutMs, 60_000, 'keepAliveTimeoutMs')
  // Node's default headersTimeout (60 s) must exceed keepAliveTimeout or idle sockets race it.
  server.headersTimeout = server.keepAliveTimeout + 1000
  let state: 'new' | 'running' | 'stopped' = 'new'

  return {
    start() {
      if (state !== 'new') return Promise.reject(new SimulatorConfigError(`simulator: start() called twice (state ${state})`))
      state = 'running'
      engine.start()
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => { state = 'stopped'; engine.stop(); reject(err) }
        server.once('error', onError)
        server.listen(port, host, () => {
          server.off('error', onError)
          const actual = (server.address() as AddressInfo).port
          const h = host.includes(':') ? `[${host}]` : host
          resolve({ url: `http://${h}:${actual}`, port: actual })
        })
      })
    },
    stop() {
      if (state !== 'running') { state = 'stopped'; return Promise.resolve() }
      state = 'stopped'
      engine.stop()
      return new Promise((resolve) => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
    },
    stats: () => ({ ...stats, active: engine.active() })
  }
}
