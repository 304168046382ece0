import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { systemClock } from '@loadmesh/clock'
import type { Clock } from '@loadmesh/clock'
import { createEngineFromProfile, prefixBlockHashes } from '@loadmesh/sim-engine'
import type { Profile, Routing } from '@loadmesh/sim-engine'
import { countTokens, createLengthSampler, createRng, parseLengthSpec, prepareTokenizer } from '@loadmesh/workload'
import type { DurationSpec, LengthSpec } from '@loadmesh/workload'
import { adminFaults } from './admin-faults.ts'
import { ApiRequestError } from './api-error.ts'
import { embeddingsResponse, parseEmbeddingsRequest } from './embeddings.ts'
import type { Engine, EngineFactory, SimEndpoint, SimRequest } from './engine.ts'
import { FaultConfigError, SimulatorConfigError } from './errors.ts'
import { GenerationExchange, PooledExchange, sendError, sendJson, statusFault } from './exchange.ts'
import type { ServerContext } from './exchange.ts'
import { parseFaultConfig, parseFaultHeader } from './fault-config.ts'
import type { ForcedFault, RateFault } from './fault-config.ts'
import { FaultController } from './fault-controller.ts'
import { FrameFlusher } from './frame-flusher.ts'
import type { FaultStatus } from './fault-controller.ts'
import { createFixedEngine } from './fixed-engine.ts'
import { createSampledLatency } from './latency-model.ts'
import { DEFAULT_MODERATION_MODEL, moderationsResponse, parseModerationsRequest } from './moderations.ts'
import { createStreamFramer } from './openai-frames.ts'
import type { ResponseMeta } from './openai-frames.ts'
import { DEFAULT_OUTPUT_TOKENS, resolveOutputLength } from './output-length.ts'
import { createTextSource } from './output-text.ts'
import { parseGenerationRequest } from './parse-request.ts'
import { SimMetrics } from './sim-metrics.ts'

/** The `fixed` engine: every request independent, TTFT and ITL sampled from duration specs. */
export interface FixedEngineConfig {
  kind?: 'fixed'
  ttft: DurationSpec | string
  itl: DurationSpec | string
  /** Largest prompt + max_tokens accepted (400 context_length_exceeded above); default 131072. */
  maxModelLen?: number
}

/** A step-loop engine from a profile (see @loadmesh/sim-engine and docs/simulator-profiles.md). */
export interface ProfileEngineConfig {
  kind: 'profile'
  /** A `step` profile; the `fixed` profile is FixedEngineConfig. */
  profile: Profile
  /** Simulated replicas behind the endpoint (default 1). */
  replicas?: number
  routing?: Routing
  /** Per-replica queue limit: requests over it get 503 with retry-after at once (default none). */
  maxWaiting?: number
}

export interface SimulatorOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  clock?: Clock
  /** Seeds latencies, output lengths, text, ids and fault draws; default 1. */
  seed?: number | string
  /** Names served by /v1/models; the first answers requests without `model`. Default ['loadmesh-sim']. */
  models?: string[]
  /** Answer for any model name (echoed back) instead of 404 model_not_found; default true. */
  acceptAnyModel?: boolean
  /** Fixed-engine latencies (default ttft 10ms, itl 5ms), a profile, or a factory for another engine. */
  engine?: FixedEngineConfig | ProfileEngineConfig | EngineFactory
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
  /**
   * Faults in the file form (docs/simulator.md): a list, or `{ faults: [...] }`, as parsed from YAML
   * or JSON. Timed faults count from start().
   */
  faults?: unknown
  /** Honour the `x-loadmesh-fault` request header; default true. */
  faultHeader?: boolean
  /** Serve GET/POST/DELETE /admin/faults; default true. */
  adminApi?: boolean
  /** Length of embedding vectors (and the largest `dimensions` accepted); default 1536. */
  embeddingDimensions?: number
}

export interface SimulatorStats {
  /** API requests accepted (valid, past the model and context checks). */
  requests: number
  /** Requests the engine holds right now. */
  active: number
  /** Output tokens sent. */
  tokens: number
  /** Error responses of any kind (4xx, 5xx, in-stream errors). */
  errors: number
  /** Requests abandoned by their client before the end. */
  cancelled: number
  /** Per-request faults played (forced by the header or drawn from the rates). */
  faults: number
}

export interface Simulator {
  start(): Promise<{ url: string; port: number }>
  /** Fails what is in flight, closes every socket (keep-alive included) and resolves. */
  stop(): Promise<void>
  stats(): SimulatorStats
  /** Adds faults, in the file form, as POST /admin/faults does. Throws FaultConfigError. */
  addFaults(config: unknown): void
  /** Removes every fault, or those of one kind, as DELETE /admin/faults does. */
  clearFaults(kind?: string): void
  /** What GET /admin/faults answers. */
  faultStatus(): FaultStatus
  /** The /metrics exposition (resets the event-loop lag window, as a scrape does). */
  metricsText(): string
}

const DEFAULT_ENGINE: FixedEngineConfig = { kind: 'fixed', ttft: '10ms', itl: '5ms' }
const API: ReadonlyMap<string, SimEndpoint> = new Map<string, SimEndpoint>([
  ['/v1/chat/completions', '/v1/chat/completions'],
  ['/v1/completions', '/v1/completions'],
  ['/v1/embeddings', '/v1/embeddings'],
  ['/v1/moderations', '/v1/moderations']
])
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

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
  const embeddingDims = positiveInt(opts.embeddingDimensions, 1536, 'embeddingDimensions')
  const countPrompt = opts.countPromptTokens ?? countTokens
  // Loaded now rather than on the first request, which it would delay by ~350 ms.
  if (opts.countPromptTokens === undefined) prepareTokenizer()
  const faultHeader = opts.faultHeader ?? true
  const adminApi = opts.adminApi ?? true

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
  const flusher = new FrameFlusher()
  const engineClock = flusher.wrapEngineClock(clock)
  /** Tokens per KV block when the profile caches prompt prefixes (0: no prefix hashes needed). */
  let prefixBlock = 0
  let engine: Engine
  if (typeof engineOpt === 'function') {
    engine = engineOpt({ clock: engineClock, rng: rng.split('engine'), tokensPerChunk })
  } else if (engineOpt.kind === 'profile') {
    const p = engineOpt.profile
    if (p?.engine !== 'step') throw new SimulatorConfigError(`simulator engine: profile "${String(p?.name)}" is not a step profile; give the fixed engine as { kind: 'fixed', ttft, itl }`)
    engine = createEngineFromProfile(p, { clock: engineClock, rng: rng.split('engine'), tokensPerChunk }, { replicas: engineOpt.replicas, routing: engineOpt.routing, maxWaiting: engineOpt.maxWaiting })
    if (p.scheduler.prefix_caching) prefixBlock = p.scheduler.block_tokens
  } else if (engineOpt.kind === undefined || engineOpt.kind === 'fixed') {
    engine = createFixedEngine({ clock: engineClock, latency: createSampledLatency(engineOpt, rng.split('latency')), tokensPerEmit: tokensPerChunk, maxModelLen: engineOpt.maxModelLen })
  } else {
    throw new SimulatorConfigError(`simulator engine: unknown kind "${String((engineOpt as { kind: unknown }).kind)}" (valid: fixed, profile, or pass a factory)`)
  }
  const maxModelLen = engine.maxModelLen()
  const faults = new FaultController(clock, rng.split('faults'), engine)
  if (opts.faults !== undefined) faults.add(parseFaultConfig(opts.faults, 'simulator faults'), 'simulator faults')
  const metrics = new SimMetrics(models[0], maxModelLen)
  const c: ServerContext = { clock, engine, metrics, faults, flusher, stats: { requests: 0, tokens: 0, errors: 0, cancelled: 0, faults: 0 } }
  let seq = 0

  /** The request's fault: the header's, else one seeded draw (always made, so outcomes do not shift). */
  const decideFault = (req: IncomingMessage): ForcedFault | RateFault | undefined => {
    const drawn = faults.draw()
    if (!faultHeader) return drawn
    const h = req.headers['x-loadmesh-fault']
    if (h === undefined) return drawn
    return parseFaultHeader(Array.isArray(h) ? h[0] : h)
  }

  const contextError = (res: ServerResponse, prompt: number, completion: number, param: string): void => {
    sendError(c, res, 400, `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${prompt + completion} tokens (${prompt} in the messages, ${completion} in the completion). Please reduce the length of the messages or completion.`, 'invalid_request_error', param, 'context_length_exceeded')
  }

  const api = (endpoint: SimEndpoint, raw: string, arrivalAt: number, req: IncomingMessage, res: ServerResponse): void => {
    try {
      if (endpoint === '/v1/embeddings' || endpoint === '/v1/moderations') pooled(endpoint, raw, arrivalAt, req, res)
      else generate(endpoint, raw, arrivalAt, req, res)
    } catch (err) {
      if (err instanceof ApiRequestError) sendError(c, res, err.status, err.message, err.type, err.param, err.apiCode)
      else if (err instanceof FaultConfigError) sendError(c, res, 400, err.message, 'invalid_request_error', null, 'invalid_fault_header')
      else throw err
    }
  }

  const checkModel = (res: ServerResponse, model: string): boolean => {
    if (acceptAnyModel || models.includes(model)) return true
    sendError(c, res, 404, `The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model', 'model_not_found')
    return false
  }

  const generate = (endpoint: SimEndpoint, raw: string, arrivalAt: number, req: IncomingMessage, res: ServerResponse): void => {
    const parsed = parseGenerationRequest(endpoint, raw, countPrompt)
    const model = parsed.model ?? models[0]
    if (!checkModel(res, model)) return
    const prompt = parsed.promptTokens
    const param = endpoint === '/v1/chat/completions' ? 'messages' : 'prompt'
    // vLLM's rule: prompt + max_tokens must fit; without max_tokens the answer may fill what is left.
    if (Math.max(1, prompt) >= maxModelLen || (parsed.maxTokens !== undefined && Math.max(1, prompt) + parsed.maxTokens > maxModelLen)) {
      contextError(res, prompt, parsed.maxTokens ?? 0, param)
      return
    }
    const fault = decideFault(req)
    if (fault?.kind === 'none') {
      startGeneration(endpoint, parsed, model, arrivalAt, res, undefined)
      return
    }
    if (fault?.kind === 'http_400' || fault?.kind === 'http_429' || fault?.kind === 'http_503' || fault?.kind === 'http_500') {
      statusFault(c, res, fault, maxModelLen, prompt)
      return
    }
    startGeneration(endpoint, parsed, model, arrivalAt, res, fault)
  }

  const startGeneration = (
    endpoint: SimEndpoint, parsed: ReturnType<typeof parseGenerationRequest>, model: string, arrivalAt: number, res: ServerResponse, fault: RateFault | undefined
  ): void => {
    const prompt = parsed.promptTokens
    const length = resolveOutputLength({ maxTokens: parsed.maxTokens, ignoreEos: parsed.ignoreEos }, outputSample, defaultMaxTokens)
    const room = maxModelLen - Math.max(1, prompt)
    const tokens = Math.min(length.tokens, room)
    const id = `${endpoint === '/v1/chat/completions' ? 'chatcmpl' : 'cmpl'}-${idTag}${(seq++).toString(36)}`
    const simReq: SimRequest = {
      id,
      endpoint,
      model,
      promptTokens: prompt,
      outputTokens: tokens,
      finishReason: tokens < length.tokens ? 'length' : length.finishReason,
      stream: parsed.stream,
      arrivalAt
    }
    if (prefixBlock > 0) simReq.prefixHashes = prefixBlockHashes(parsed.promptText(), prompt, prefixBlock)
    const meta: ResponseMeta = {
      endpoint,
      id,
      created: Math.floor(clock.wallNow() / 1000),
      model,
      promptTokens: prompt,
      text,
      origin: text.origin()
    }
    const framer = parsed.stream ? createStreamFramer(meta, parsed.includeUsage, tokensPerChunk) : undefined
    new GenerationExchange(c, res, fault, simReq, meta, framer).begin()
  }

  const pooled = (endpoint: '/v1/embeddings' | '/v1/moderations', raw: string, arrivalAt: number, req: IncomingMessage, res: ServerResponse): void => {
    const emb = endpoint === '/v1/embeddings'
    const parsed = emb ? parseEmbeddingsRequest(raw, countPrompt, embeddingDims) : parseModerationsRequest(raw, countPrompt)
    const model = parsed.model ?? (emb ? models[0] : DEFAULT_MODERATION_MODEL)
    if (emb && !checkModel(res, model)) return
    const param = 'input'
    for (const input of parsed.inputs) {
      if (Math.max(1, input.tokens) > maxModelLen) {
        contextError(res, input.tokens, 0, param)
        return
      }
    }
    const fault = decideFault(req)
    const prompt = parsed.inputs.reduce((s, i) => s + i.tokens, 0)
    if (fault?.kind === 'http_400' || fault?.kind === 'http_429' || fault?.kind === 'http_503' || fault?.kind === 'http_500') {
      statusFault(c, res, fault, maxModelLen, prompt)
      return
    }
    const id = `${emb ? 'embd' : 'modr'}-${idTag}${(seq++).toString(36)}`
    const reqs: SimRequest[] = parsed.inputs.map((input, i) => ({
      id: `${id}-${i}`, endpoint, model, promptTokens: input.tokens, outputTokens: 0, finishReason: 'stop', stream: false, arrivalAt
    }))
    const body = emb
      ? () => embeddingsResponse(parsed as ReturnType<typeof parseEmbeddingsRequest>, model, embeddingDims)
      : () => moderationsResponse(parsed as ReturnType<typeof parseModerationsRequest>, id, model)
    new PooledExchange(c, res, fault?.kind === 'none' ? undefined : fault, arrivalAt, reqs, body).begin()
  }

  const readBody = (req: IncomingMessage, res: ServerResponse, what: string, then: (raw: string, arrivalAt: number) => void): void => {
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
        sendError(c, res, 413, `Request body for ${what} exceeds ${maxBodyBytes} bytes.`, 'invalid_request_error', null, 'request_too_large', { connection: 'close' })
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (tooLarge) return
      // Arrival is stamped before parsing: prompt tokenisation is server time, inside TTFT, as on a real server.
      const arrivalAt = clock.now()
      const raw = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')
      // These listeners live as long as the request; a long stream must not keep its prompt's bytes.
      chunks.length = 0
      then(raw, arrivalAt)
    })
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    const method = req.method ?? 'GET'
    const endpoint = API.get(path)
    if (endpoint !== undefined) {
      if (method !== 'POST') {
        sendError(c, res, 405, `Method ${method} is not allowed for ${path}; use POST.`, 'invalid_request_error', null, 'method_not_allowed', { allow: 'POST' })
        return
      }
      readBody(req, res, endpoint, (raw, arrivalAt) => { api(endpoint, raw, arrivalAt, req, res) })
      return
    }
    if (path === '/admin/faults' && adminApi) {
      adminFaults(c, faults, method, q < 0 ? '' : url.slice(q + 1), res, (then) => { readBody(req, res, path, (raw) => { then(raw) }) })
      return
    }
    const isGet = method === 'GET' || method === 'HEAD'
    if (path === '/health' || path === '/metrics' || path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (!isGet) {
        sendError(c, res, 405, `Method ${method} is not allowed for ${path}; use GET.`, 'invalid_request_error', null, 'method_not_allowed', { allow: 'GET, HEAD' })
        return
      }
      if (path === '/health') {
        // Down while every simulated replica is in a crash restart window, as a real health check would be.
        const up = engine.stats().replicas.some((r) => r.up)
        res.writeHead(up ? 200 : 503, { 'content-length': 0 })
        res.end()
        return
      }
      if (path === '/metrics') {
        const body = metrics.render(engine.stats(), faults.injectedCounts())
        res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) })
        res.end(body)
        return
      }
      const created = Math.floor(clock.wallNow() / 1000)
      const card = (id: string): object => ({ id, object: 'model', created, owned_by: 'loadmesh', max_model_len: maxModelLen })
      if (path === '/v1/models') {
        sendJson(res, 200, JSON.stringify({ object: 'list', data: models.map(card) }))
        return
      }
      const id = decodeURIComponent(path.slice('/v1/models/'.length))
      if (models.includes(id)) sendJson(res, 200, JSON.stringify(card(id)))
      else sendError(c, res, 404, `The model \`${id}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model', 'model_not_found')
      return
    }
    sendError(c, res, 404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null, 'unknown_url')
  }

  // A socket buffers at most this much on our side when its client reads slowly (the tokens after
  // that are only counted, see GenerationExchange.block): 4 KiB instead of Node's 64 KiB bounds the
  // memory a slow stream costs; the kernel's own socket buffer still absorbs bursts.
  const server = createServer({ keepAlive: true, noDelay: true, highWaterMark: 4096 }, handle)
  server.keepAliveTimeout = positiveInt(opts.keepAliveTimeoutMs, 60_000, 'keepAliveTimeoutMs')
  // Node's default headersTimeout (60 s) must exceed keepAliveTimeout or idle sockets race it.
  server.headersTimeout = server.keepAliveTimeout + 1000
  // A hung request (a fault) or a long stream must not be cut by Node's own 5-minute request timeout.
  server.requestTimeout = 0
  let state: 'new' | 'running' | 'stopped' = 'new'

  return {
    start() {
      if (state !== 'new') return Promise.reject(new SimulatorConfigError(`simulator: start() called twice (state ${state})`))
      state = 'running'
      engine.start()
      metrics.start()
      faults.start()
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => { state = 'stopped'; faults.stop(); metrics.stop(); engine.stop(); reject(err) }
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
      faults.stop()
      metrics.stop()
      engine.stop()
      return new Promise((resolve) => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
    },
    stats: () => ({ ...c.stats, active: engine.active() }),
    addFaults(config) { faults.add(parseFaultConfig(config, 'addFaults'), 'addFaults') },
    clearFaults(kind) { faults.clear(kind) },
    faultStatus: () => faults.status(),
    metricsText: () => metrics.render(engine.stats(), faults.injectedCounts())
  }
}
