import type { Rng } from './rng.ts'
import { createRng } from './rng.ts'
import { WorkloadSpecError } from './errors.ts'
import { WORDS } from './vocabulary.ts'

/** Largest prompt `make()` builds, in tokens. */
export const MAX_PROMPT_TOKENS = 131_072

export interface PromptFactory {
  /** A prompt of exactly `tokens` tokens under `countTokens`, 0 <= tokens <= MAX_PROMPT_TOKENS. */
  make(tokens: number): string
}

export interface TextSource {
  /**
   * The text of output token `i` (i >= 0): one word, with a leading space except for i = 0, so the
   * concatenation of tokens 0..n-1 reads as text and is exactly n tokens under `countTokens`.
   */
  token(i: number): string
}

// The first few words of every prompt are drawn fresh: two prompts that start at the same pool
// offset (likely after a few hundred requests: there are only 2^17 offsets) still differ from
// their first token, so a server's prefix cache, which chains block hashes from the start, never
// hits by accident. 4 words = 40 bits on top of the 17-bit offset.
const FRESH_WORDS = 4
const WORD_BITS = 10 // WORDS.length === 1024

function randomWord(rng: Rng): string {
  return WORDS[rng.nextU32() >>> (32 - WORD_BITS)]
}

interface Pool {
  /** Every word with its leading space, twice over (see buildPool), joined. */
  text: string
  /** offsets[i]: where word i starts in `text`; offsets[2n - 1] is its length. */
  offsets: Int32Array
}

/** The pool's own seed: a constant, so every process (and every agent of a mesh) has the same pool. */
const POOL_SEED = 'loadmesh-prompt-pool'
let sharedPool: Pool | null = null

/**
 * MAX_PROMPT_TOKENS random words followed by a copy of the first MAX_PROMPT_TOKENS - 1, so that a
 * window of any size fits from any start without wrapping.
 */
function buildPool(): Pool {
  const poolRng = createRng(POOL_SEED)
  const n = MAX_PROMPT_TOKENS
  const words = new Array<string>(n)
  for (let i = 0; i < n; i++) words[i] = randomWord(poolRng)
  const offsets = new Int32Array(2 * n)
  const parts = new Array<string>(2 * n - 1)
  let at = 0
  for (let i = 0; i < 2 * n - 1; i++) {
    const w = ' ' + words[i % n]
    offsets[i] = at
    parts[i] = w
    at += w.length
  }
  offsets[2 * n - 1] = at
  return { text: parts.join(''), offsets }
}

/**
 * Builds the process's prompt pool now rather than at the first run (~40 ms of CPU, a 1.5 MB
 * string). An agent calls it before it joins, so that adopting a plan seconds before T0 costs nothing.
 */
export function preparePromptPool(): void {
  sharedPool ??= buildPool()
}

/**
 * Prompts are windows into one pool of MAX_PROMPT_TOKENS random words, built once per process and
 * shared by every factory: the pool is not what makes prompts differ (the fresh words and the
 * window's start, both drawn from `rng`, are), so one per run would only cost its build and its
 * garbage on every plan. `make()` is a slice, O(1) apart from the few fresh words.
 */
export function createPromptFactory(rng: Rng): PromptFactory {
  preparePromptPool()
  const { text: pool, offsets } = sharedPool as Pool
  return {
    make(tokens: number): string {
      if (!Number.isInteger(tokens) || tokens < 0 || tokens > MAX_PROMPT_TOKENS) {
        throw new WorkloadSpecError(`prompt size: must be an integer in [0, ${MAX_PROMPT_TOKENS}] tokens, got ${String(tokens)}`)
      }
      if (tokens === 0) return ''
      const fresh = Math.min(tokens, FRESH_WORDS)
      let head = randomWord(rng)
      for (let i = 1; i < fresh; i++) head += ' ' + randomWord(rng)
      const rest = tokens - fresh
      if (rest === 0) return head
      const start = rng.nextU32() >>> (32 - 17) // MAX_PROMPT_TOKENS === 2^17
      // Each pool word carries its leading space, which separates it from the head.
      return head + pool.slice(offsets[start], offsets[start + rest])
    }
  }
}

/**
 * Output text for a simulator that emits one word per token: a seeded cycle of 2^16 words, so
 * `token(i)` is O(1) and the same i always gives the same word.
 */
export function createTextSource(rng: Rng): TextSource {
  const size = 1 << 16
  const cycle = new Array<string>(size)
  for (let i = 0; i < size; i++) cycle[i] = randomWord(rng)
  const spaced = cycle.map((w) => ' ' + w)
  return {
    token(i: number): string {
      const k = i & (size - 1)
      return i === 0 ? cycle[0] : spaced[k]
    }
  }
}
