import { compareIds } from './canonical.ts'
import { MembersError } from './errors.ts'

/**
 * Weights as exact integers. Every finite double is m × 2^e with integer m, so scaling all weights
 * to the smallest exponent gives integers whose ratios are exactly those of the doubles: shares and
 * concurrency splits are then computed without rounding, identically on every host.
 */
export interface ExactWeights {
  /** Sorted by peer id. */
  peers: string[]
  weights: number[]
  /** Integer weights, same order; ratios equal those of `weights` exactly. */
  ints: bigint[]
  total: bigint
}

export interface WeightedMember {
  peer_id: string
  weight: number
}

export function exactWeights(members: readonly WeightedMember[], where: string): ExactWeights {
  const sorted = [...members].sort((a, b) => compareIds(a.peer_id, b.peer_id))
  const parts: Array<{ m: bigint; e: number }> = []
  for (let i = 0; i < sorted.length; i++) {
    const { peer_id, weight } = sorted[i]
    if (typeof peer_id !== 'string' || peer_id.length === 0) {
      throw new MembersError(`${where}: member ${i} has no peer id`)
    }
    if (i > 0 && sorted[i - 1].peer_id === peer_id) throw new MembersError(`${where}: peer ${peer_id} is listed twice`)
    if (typeof weight !== 'number' || !Number.isFinite(weight) || !(weight > 0)) {
      throw new MembersError(`${where}: peer ${peer_id} has weight ${weight}; weights must be finite and > 0`)
    }
    parts.push(dyadic(weight))
  }
  const emin = parts.reduce((min, p) => Math.min(min, p.e), Infinity)
  const ints = parts.map((p) => p.m << BigInt(p.e - emin))
  return {
    peers: sorted.map((m) => m.peer_id),
    weights: sorted.map((m) => m.weight),
    ints,
    total: ints.reduce((a, b) => a + b, 0n)
  }
}

const view = new DataView(new ArrayBuffer(8))

/** x = m × 2^e exactly, m odd (x finite and > 0). */
function dyadic(x: number): { m: bigint; e: number } {
  view.setFloat64(0, x)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const biased = (hi >>> 20) & 0x7ff
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let e: number
  if (biased === 0) {
    e = -1074
  } else {
    m |= 1n << 52n
    e = biased - 1075
  }
  while ((m & 1n) === 0n) {
    m >>= 1n
    e++
  }
  return { m, e }
}

export function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

/** "n/d" in lowest terms. */
export function fractionText(n: bigint, d: bigint): string {
  const g = gcd(n, d)
  return g === 0n ? '0/1' : `${n / g}/${d / g}`
}
