import type { WorkloadRecord } from './types.ts'
import { WorkloadModelOptionError } from './errors.ts'

/**
 * Stable split for the mesh: which of `n` weighted shares a record belongs to; sessions stay
 * together. The key is the session id when there is one (every turn of a conversation goes to the
 * same agent, so its context and prefix-cache behaviour are those of one client), else the record's
 * line in the log.
 */
export function recordShareKey (record: WorkloadRecord): string {
  return record.sessionId !== undefined ? `session:${record.sessionId}` : `line:${record.line}`
}

const encoder = new TextEncoder()

/** A 53-bit hash of the key's UTF-8 (two multiplicative 32-bit lanes, cyrb53-style), as a number in [0, 1). */
export function keyUnitInterval (key: string): number {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (const byte of encoder.encode(key)) {
    h1 = Math.imul(h1 ^ byte, 2654435761)
    h2 = Math.imul(h2 ^ byte, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  const bits = 4294967296 * ((h2 >>> 0) & 0x1fffff) + (h1 >>> 0)
  return bits / 9007199254740992
}

/**
 * Index of the share a key belongs to, for shares with the given weights (e.g. agents' declared
 * capacities, in the mesh's order): the key's hash in [0, 1) falls into one of the consecutive
 * segments of lengths weight/Σweights. Depends only on the key and the weights, so every peer
 * computes the same split.
 */
export function shareForKey (key: string, weights: readonly number[]): number {
  let total = 0
  for (const w of weights) {
    if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) throw new WorkloadModelOptionError(`share weights must be non-negative numbers, got ${String(w)}`)
    total += w
  }
  if (!(total > 0)) throw new WorkloadModelOptionError('share weights must not all be zero')
  const u = keyUnitInterval(key) * total
  let acc = 0
  let last = -1
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue
    acc += weights[i]
    last = i
    if (u < acc) return i
  }
  return last
}
