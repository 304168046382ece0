import type { Clock } from '@loadmesh/clock'
import type { Rng } from '@loadmesh/workload'

/** The generation endpoints an engine serves. Embeddings and moderations will join later. */
export type SimEndpoint = '/v1/chat/completions' | '/v1/completions'

export type FinishReason = 'stop' | 'length'

/**
 * One generation request as the engine sees it: the HTTP layer has already parsed, validated,
 * counted the prompt and decided how long the answer is, so an engine only decides WHEN tokens come
 * out (and, later, whether the request fails).
 */
export interface SimRequest {
  /** Unique per simulator; also the OpenAI response id. */
  id: string
  endpoint: SimEndpoint
  model: string
  promptTokens: number
  /** Exact number of tokens to generate (>= 1), resolved from max_tokens and the output-length spec. */
  outputTokens: number
  /** Reported when all `outputTokens` are out: 'length' when max_tokens capped the answer. */
  finishReason: FinishReason
  stream: boolean
  /** Clock reading (ms) when the request body was fully received; TTFT counts from here. */
  arrivalAt: number
}

/** An OpenAI-style failure: the server renders it as a status + `{ error: {...} }` body or an SSE error. */
export interface SimError {
  status: number
  /** OpenAI error type, e.g. 'invalid_request_error', 'server_error', 'service_unavailable'. */
  type: string
  message: string
  /** OpenAI error code, e.g. 'rate_limit_exceeded'; null when none applies. */
  code?: string | null
}

/**
 * Where an engine delivers a request's output. Calls are synchronous and cheap: the server turns each
 * `onTokens` into SSE frames at once, so the moment of the call IS the moment the tokens leave.
 * After `onDone` or `onError` no further call is made for that request.
 */
export interface TokenSink {
  /** `n` (>= 1) tokens came out now. */
  onTokens(n: number): void
  onDone(reason: FinishReason): void
  /**
   * The request failed. Called synchronously from `submit` it means "rejected at admission" and the
   * server answers with the HTTP status; later it becomes an in-stream error event.
   */
  onError(err: SimError): void
}

export interface Engine {
  /** Takes ownership of the request; returns a cancel function (client went away). Idempotent. */
  submit(req: SimRequest, sink: TokenSink): () => void
  start(): void
  /** Cancels every pending request, failing each one with a 503 through its sink. */
  stop(): void
  /** Requests submitted and neither finished, failed nor cancelled. */
  active(): number
}

/** What the simulator hands an engine factory: the injected clock and a seeded stream of its own. */
export interface EngineContext {
  clock: Clock
  rng: Rng
  /** Tokens the server packs into one SSE chunk; an engine may release tokens in groups of this size. */
  tokensPerChunk: number
}

export type EngineFactory = (ctx: EngineContext) => Engine
