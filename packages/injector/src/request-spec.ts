/** The OpenAI endpoints the injector speaks. */
export type Endpoint = '/v1/chat/completions' | '/v1/completions'

/** One request to send; the workload decides these, the injector only encodes them. */
export interface RequestSpec {
  endpoint: Endpoint
  /** The prompt text: the single user message for chat, `prompt` for completions. */
  prompt: string
  /** The workload's token count of `prompt`, used when the server reports no usage. */
  inputTokens: number
  /** `max_tokens` in the body. */
  maxTokens: number
  /** Ask for an SSE stream. */
  stream: boolean
  /** Ask a streaming server to append a usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean
  /** Merged last into the body, so it can override any field (e.g. `ignore_eos`, `temperature`). */
  extraBody?: Record<string, unknown>
}
