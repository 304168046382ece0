import { countTokens as countO200k } from 'gpt-tokenizer/encoding/o200k_base'

/**
 * The tokenizer every token count in loadmesh refers to (prompt sizes, client-side output counts).
 * o200k_base is gpt-tokenizer's default and the encoding of current OpenAI models; for other
 * servers it is an approximation, which is why reports name it.
 */
export const TOKENIZER = 'gpt-tokenizer o200k_base'

// Text that happens to spell a special token ("<|endoftext|>") is counted as ordinary text, as a
// server does for user content; the library's default would throw on it instead.
const ORDINARY = { disallowedSpecial: new Set<string>() }

/** Number of o200k_base tokens in `text`. */
export function countTokens(text: string): number {
  return countO200k(text, ORDINARY)
}
