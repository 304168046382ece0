/**
 * Prefix-cache keys for a prompt without a tokenizer: entry i identifies the prompt's first
 * (i + 1) full KV blocks of `blockTokens` tokens, as a chained (running) hash of the text up to the
 * end of block i, so two prompts that share a prefix share the leading entries.
 *
 * A block is approximated by `blockTokens` pieces of text, where a piece is what a BPE tokenizer's
 * pre-tokenizer splits off: a run of letters and digits, or one punctuation mark or CJK character,
 * each with its leading whitespace. For loadmesh's own prompts (one word per token) that is exact;
 * for other text it is roughly one token per piece. The boundaries are deliberately NOT spread over
 * the text in proportion to blockTokens / promptTokens: that ratio changes as a conversation grows,
 * which would shift every boundary and lose exactly the shared prefix a multi-turn session has.
 * `promptTokens` still decides how many blocks there are (floor(promptTokens / blockTokens)); if the
 * text has fewer pieces than that, the last blocks split the remaining text evenly.
 *
 * Hashes are 53-bit integers (two 32-bit lanes), so a false hit is practically impossible. Cost: one
 * pass over the text, a few ns per character.
 */
export function prefixBlockHashes(text: string, promptTokens: number, blockTokens = 16): number[] {
  if (!Number.isInteger(blockTokens) || blockTokens < 1) throw new RangeError(`prefixBlockHashes: blockTokens must be a positive integer, got ${blockTokens}`)
  const blocks = Number.isFinite(promptTokens) && promptTokens > 0 ? Math.floor(promptTokens / blockTokens) : 0
  const out: number[] = []
  if (blocks === 0) return out
  const len = text.length
  let h1 = 0x811c9dc5 | 0
  let h2 = 0x9747b28c | 0
  let hashed = 0
  const hashTo = (end: number): number => {
    for (let i = hashed; i < end; i++) {
      const c = text.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 0x01000193)
      h2 = Math.imul(h2 ^ c, 0x5bd1e995)
      h2 ^= h2 >>> 15
    }
    hashed = end
    // Finalise both lanes without disturbing the running state.
    let a = h1 ^ (h1 >>> 16)
    a = Math.imul(a, 0x85ebca6b)
    a ^= a >>> 13
    let b = h2 ^ (h2 >>> 13)
    b = Math.imul(b, 0xc2b2ae35)
    b ^= b >>> 16
    return (a >>> 0) * 2097152 + (b >>> 11)
  }

  let pieces = 0
  let pieceEnd = 0
  let prev = SPACE
  for (let i = 0; i < len && out.length < blocks; i++) {
    const k = kind(text.charCodeAt(i))
    if (k === SPACE) { prev = SPACE; continue }
    // A new piece starts unless this character continues a run of letters and digits.
    if (!(k === WORD && prev === WORD)) {
      if (pieces > 0 && pieces % blockTokens === 0) out.push(hashTo(pieceEnd))
      if (out.length === blocks) break
      pieces++
    }
    pieceEnd = i + 1
    prev = k
  }
  if (out.length < blocks && pieces > 0 && pieces % blockTokens === 0) out.push(hashTo(pieceEnd))
  // Fewer pieces than tokens: the remaining blocks share out what text is left.
  const left = blocks - out.length
  if (left > 0) {
    const from = hashed
    for (let j = 1; j <= left; j++) {
      // The block number goes into the hash too, so an empty tail still gives distinct blocks.
      h1 = Math.imul(h1 ^ (0x10000 + j), 0x01000193)
      h2 = Math.imul(h2 ^ (0x10000 + j), 0x5bd1e995)
      out.push(hashTo(from + Math.floor((len - from) * j / left)))
    }
  }
  return out
}

const SPACE = 0
const WORD = 1
const SINGLE = 2

function kind(c: number): number {
  if (c === 32 || c === 10 || c === 9 || c === 13) return SPACE
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return WORD
  // CJK and later scripts are roughly a token per character; other non-ASCII letters join words.
  if (c >= 0x2e80) return SINGLE
  if (c >= 128) return WORD
  return SINGLE
}
