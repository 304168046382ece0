import { InjectorConfigError } from './injector-config-error.ts'

/** The OpenAI endpoints the injector speaks. */
export type Endpoint = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings' | '/v1/moderations'

/** Every endpoint, in a fixed order (for validation messages and config parsers). */
export const ENDPOINTS: readonly Endpoint[] = Object.freeze([
  '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/moderations'
] as const)

/**
 * One request to send; the workload decides these, the injector only encodes them.
 *
 * Embeddings and moderations are prefill-only: their body is `{model, input}` (no `max_tokens`),
 * they never stream, and their answer carries no generated tokens, so a result of theirs has
 * `outputTokens` 0, TTFT equal to E2E (the answer arrives all at once) and no ITL or TPOT.
 */
export interface RequestSpec {
  endpoint: Endpoint
  /** The prompt text: the single user message for chat, `prompt` for completions, `input` otherwise. */
  prompt: string
  /** The workload's token count of `prompt`, used when the server reports no usage. */
  inputTokens: number
  /** `max_tokens` in the body (generation endpoints only; ignored for embeddings and moderations). */
  maxTokens: number
  /** Ask for an SSE stream. Must be false for embeddings and moderations. */
  stream: boolean
  /** Ask a streaming server to append a usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean
  /** Merged last into the body, so it can override any field (e.g. `ignore_eos`, `temperature`). */
  extraBody?: Record<string, unknown>
}

/** True for endpoints that generate tokens (and so may stream). */
export function isGenerative(endpoint: string): boolean {
  return endpoint === '/v1/chat/completions' || endpoint === '/v1/completions'
}

/**
 * Throws InjectorConfigError when the request cannot be sent as given: an unknown endpoint, or a
 * stream asked of an endpoint that never streams. Config loaders can call it once up front; `send`
 * calls it too, so a bad spec is loud instead of a run full of failures.
 */
export function checkRequestSpec(req: RequestSpec, where = 'request'): void {
  if (!ENDPOINTS.includes(req.endpoint)) {
    throw new InjectorConfigError(`${where}: endpoint "${String(req.endpoint)}" is not one of ${ENDPOINTS.join(', ')}`)
  }
  if (req.stream && !isGenerative(req.endpoint)) {
    throw new InjectorConfigError(`${where}: endpoint ${req.endpoint} does not stream; set stream to false for it`)
  }
}
