import type { Clock } from '@loadmesh/clock'
import type { Rng } from '@loadmesh/workload'

/**
 * The seam between the simulator's HTTP layer (@loadmesh/simulator) and the engines that decide when
 * tokens come out (the `fixed` engine there, the step-loop engine here). It lives in this package so
 * the server depends on the engines and never the other way round.
 */

/** The endpoints an engine serves. Embeddings and moderations are prefill-only (`outputTokens` 0). */
export type SimEndpoint = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings' | '/v1/moderations'

export type FinishReason = 'stop' | 'length'

/**
 * One request as the engine sees it: the HTTP layer has already parsed, validated, counted the prompt
 * and decided how long the answer is, so an engine only decides WHEN tokens come out (and whether the
 * request fails from load: queue full, KV cache exhausted, replica down).
 */
export interface SimRequest {
  /** Unique per simulator; also the OpenAI response id. */
  id: string
  endpoint: SimEndpoint
  model: string
  promptTokens: number
  /**
   * Exact number of tokens to generate, resolved from max_tokens and the output-length spec: >= 1 for
   * generation endpoints, 0 for prefill-only ones (embeddings, moderations), which finish with
   * `onDone('stop')` at the end of the step that completes their prefill.
   */
  outputTokens: number
  /** Reported when all `outputTokens` are out: 'length' when max_tokens capped the answer. */
  finishReason: FinishReason
  stream: boolean
  /** Clock reading (ms) when the request body was fully received; TTFT counts from here. */
  arrivalAt: number
  /**
   * Prefix-cache keys (see `prefixBlockHashes`): entry i identifies the prompt's first (i + 1) full KV
   * blocks, so two prompts sharing a prefix share the leading entries. Absent or empty: no reuse.
   */
  prefixHashes?: readonly number[]
}

/** An OpenAI-style failure: the server renders it as a status + `{ error: {...} }` body or an SSE error. */
export interface SimError {
  status: number
  /** OpenAI error type, e.g. 'invalid_request_error', 'server_error', 'service_unavailable'. */
  type: string
  message: string
  /** OpenAI error code, e.g. 'rate_limit_exceeded'; null when none applies. */
  code?: string | null
  /** Seconds for a `retry-after` header (429 / 503), when the engine has an opinion. */
  retryAfterS?: number
}

/** Where the time of one finished request went, for vLLM's per-request histograms. */
export interface RequestTimings {
  /** Arrival to first scheduled step. */
  queueMs: number
  /** First scheduled step to the end of the step that finished the prefill. */
  prefillMs: number
  /** End of prefill to the last token. */
  decodeMs: number
  /** Prompt tokens served from the prefix cache. */
  cachedPromptTokens: number
  /** Times the request was preempted (and recomputed). */
  preemptions: number
  /** Replica index that served it. */
  replica: number
}

/**
 * Where an engine delivers a request's output. Calls are synchronous and cheap: the server counts the
 * tokens and, at the end of the engine's timer callback (its tick), writes one SSE frame per stream
 * with everything the tick released, so the tick IS the moment the tokens leave. An engine that fell
 * behind may release several steps' tokens in one tick; they merge into one frame, as vLLM merges a
 * request's pending outputs. After `onDone` or `onError` no further call is made for that request.
 */
export interface TokenSink {
  /** `n` (>= 1) tokens came out now. */
  onTokens(n: number): void
  onDone(reason: FinishReason, timings?: RequestTimings): void
  /**
   * The request failed. Called synchronously from `submit` it means "rejected at admission" and the
   * server answers with the HTTP status; later it becomes an in-stream error event (or a status, if
   * nothing was sent yet).
   */
  onError(err: SimError): void
}

/** Faults the engine itself plays out (the HTTP layer handles the per-request ones). */
export type EngineFault =
  /** Every step costs `factor` times as much for `durationMs` (0 = until replaced). */
  | { kind: 'brownout'; factor: number; durationMs: number }
  /** Replica (or all, when absent) makes no progress for `durationMs`; requests wait, nothing fails. */
  | { kind: 'stall'; durationMs: number; replica?: number }
  /** Replica fails all its requests (503) and refuses new ones for `restartMs`, then comes back empty. */
  | { kind: 'crash'; replica: number; restartMs: number }

export interface ReplicaStats {
  up: boolean
  running: number
  waiting: number
  /** KV blocks in use / total, 0..1. */
  kvCacheUsage: number
}

/** Gauges and counters for /metrics (vLLM names); counters are cumulative since `start()`. */
export interface EngineStats {
  running: number
  waiting: number
  kvCacheUsage: number
  preemptions: number
  prefixCacheQueries: number
  prefixCacheHits: number
  promptTokens: number
  generationTokens: number
  replicas: ReplicaStats[]
  /** Engine steps run (all replicas), for engines that have steps. */
  steps?: number
}

export interface Engine {
  /** Takes ownership of the request; returns a cancel function (client went away). Idempotent. */
  submit(req: SimRequest, sink: TokenSink): () => void
  start(): void
  /** Cancels every pending request, failing each one with a 503 through its sink. */
  stop(): void
  /** Requests submitted and neither finished, failed nor cancelled. */
  active(): number
  stats(): EngineStats
  /** Applies a fault; an engine that cannot play one throws a SimulatorConfigError-like error naming it. */
  inject(fault: EngineFault): void
  /** Largest prompt + output the model accepts (tokens); the server answers 400 context_length_exceeded above it. */
  maxModelLen(): number
}

/** What the simulator hands an engine factory: the injected clock and a seeded stream of its own. */
export interface EngineContext {
  clock: Clock
  rng: Rng
  /** Tokens the server packs into one SSE chunk; an engine may release tokens in groups of this size. */
  tokensPerChunk: number
}

export type EngineFactory = (ctx: EngineContext) => Engine
