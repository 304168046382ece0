import { createRequire } from 'node:module'

/**
 * The tokenizer every token count in loadmesh refers to (prompt sizes, client-side output counts).
 * o200k_base is gpt-tokenizer's default and the encoding of current OpenAI models; for other
 * servers it is an approximation, which is why reports name it.
 */
export const TOKENIZER = 'gpt-tokenizer o200k_base'

// Text that happens to spell a special token ("<|endoftext|>") is counted as ordinary text, as a
// server does for user content; the library's default would throw on it instead.
const ORDINARY = { disallowedSpecial: new Set<string>() }

type Count = (text: string, options: typeof ORDINARY) => number
let count: Count | null = null

/**
 * Loads the encoding now (~350 ms of CPU: its 200k-entry rank table). Loaded at import time it made
 * every command pay for it, `keygen` and `status` included, and an agent's boot a third longer;
 * whoever counts on a timed path (a run's setup, a simulator's start) calls this first, and
 * `countTokens` loads it on first use otherwise. Synchronous: the package's CommonJS build.
 */
export function prepareTokenizer(): void {
  count ??= (createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as { countTokens: Count }).countTokens
}

/** Number of o200k_base tokens in `text`. */
export function countTokens(text: string): number {
  if (count === null) prepareTokenizer()
  return (count as Count)(text, ORDINARY)
}
