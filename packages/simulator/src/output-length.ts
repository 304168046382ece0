import type { FinishReason } from './engine.ts'

/** Output length used when the request has no max_tokens and no output-length spec is configured. */
export const DEFAULT_OUTPUT_TOKENS = 256

export interface OutputLengthInput {
  /** max_tokens (or max_completion_tokens) from the request, if any. */
  maxTokens: number | undefined
  /** vLLM's `ignore_eos`: generate exactly max_tokens whatever the "natural" length would be. */
  ignoreEos: boolean
}

export interface OutputLength {
  tokens: number
  finishReason: FinishReason
}

/**
 * How long an answer is, as a real model would decide it:
 * - with an output-length sampler, the sampled length is the model's natural stop (EOS), capped by
 *   max_tokens; reaching max_tokens reports 'length' (the cap hit before EOS), else 'stop';
 * - without one, the model "talks until the cap": max_tokens with 'length'; when the request has no
 *   max_tokens, `defaultMaxTokens` with 'stop' (treated as the natural length);
 * - `ignore_eos` ignores the sampler: max_tokens (or the default) with 'length'.
 * Always at least 1 token: a real server emits at least the token that ends generation.
 */
export function resolveOutputLength(
  input: OutputLengthInput,
  sample: (() => number) | undefined,
  defaultMaxTokens: number = DEFAULT_OUTPUT_TOKENS
): OutputLength {
  const cap = input.maxTokens
  if (input.ignoreEos) return { tokens: Math.max(1, cap ?? defaultMaxTokens), finishReason: 'length' }
  if (sample === undefined) {
    return cap === undefined
      ? { tokens: Math.max(1, defaultMaxTokens), finishReason: 'stop' }
      : { tokens: Math.max(1, cap), finishReason: 'length' }
  }
  const natural = Math.max(1, Math.round(sample()))
  if (cap !== undefined && natural >= cap) return { tokens: Math.max(1, cap), finishReason: 'length' }
  return { tokens: natural, finishReason: 'stop' }
}
