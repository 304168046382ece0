/**
 * The outcome of one request: the contract between the injector (which fills it in) and the
 * recorders (which turn it into histograms). Every time is a monotonic clock reading in milliseconds
 * (`Clock.now()`); NaN means "did not happen". Definitions: docs/metrics.md.
 */
export interface RequestResult {
  /** Intended send time, from the schedule (open loop) or the previous completion (closed loop). */
  intendedAt: number
  /** Actual send time, just before the request is handed to the connection. NaN if never sent. */
  sentAt: number
  /** Arrival of the first chunk carrying generated content, text or reasoning. NaN if none. */
  firstTokenAt: number
  /** Arrival of the first chunk carrying non-reasoning content. NaN if none. */
  firstContentAt: number
  /** Arrival of the last chunk carrying content. NaN if none (and for non-streamed responses). */
  lastTokenAt: number
  /** End of the response: body fully read, or the failure. */
  endAt: number
  /** Gaps between consecutive content chunks, in ms (streamed responses only). */
  itls: number[]
  /** Chunks that carried content (text or reasoning). */
  contentChunks: number
  /** Output tokens: the server's `usage.completion_tokens` when given, else counted by the client. */
  outputTokens: number
  /** Where `outputTokens` came from. */
  outputTokensSource: 'usage' | 'counted'
  /** Reasoning tokens (usage.completion_tokens_details.reasoning_tokens, or counted reasoning chunks). */
  reasoningTokens: number
  /** Prompt tokens: the server's `usage.prompt_tokens` when given, else the client's count. */
  inputTokens: number
  /** True when the response completed without error. */
  ok: boolean
  /** Stable error class when !ok: http_<status>, connect, timeout, stream_aborted, bad_sse, bad_json, sse_error. */
  errorClass?: string
  /** Human-readable detail for the first errors of a class. */
  errorMessage?: string
  /** Endpoint path, e.g. "/v1/chat/completions". */
  endpoint: string
  /** Whether the response was streamed (SSE). */
  streamed: boolean
  /**
   * What the workload said about this request, attached by the caller after `send` (the injector
   * never sets it). Absent: no classes, not adversarial, importance weight 1.
   */
  labels?: RequestLabels
}

/**
 * Workload labels of one request, for the per-label breakdown and the production-weighted view
 * (the endpoint label is `RequestResult.endpoint`).
 */
export interface RequestLabels {
  /** Class labels, e.g. { intent: 'code', region: 'eu' } (from a log or a workload model). */
  classes?: Record<string, string>
  /** Adversarial kind (e.g. 'nested-json') when the request is one of the adversarial inputs. */
  adversarial?: string
  /**
   * Importance weight p_production / p_sampled when the workload oversamples rare requests
   * (long tail); 1 when absent. Finite and > 0.
   */
  weight?: number
}

/** A result for a request that never got a response; the injector fills in the rest. */
export function emptyResult(intendedAt: number, endpoint: string, streamed: boolean): RequestResult {
  return {
    intendedAt,
    sentAt: Number.NaN,
    firstTokenAt: Number.NaN,
    firstContentAt: Number.NaN,
    lastTokenAt: Number.NaN,
    endAt: Number.NaN,
    itls: [],
    contentChunks: 0,
    outputTokens: 0,
    outputTokensSource: 'counted',
    reasoningTokens: 0,
    inputTokens: 0,
    ok: false,
    endpoint,
    streamed
  }
}
