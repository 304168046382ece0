import type { Rng } from '@loadmesh/workload'
import { RunConfigError } from './run-config.ts'

/**
 * Long-tail oversampling (`--long-tail threshold=T,factor=F`): outcomes rarer than T under the
 * production distribution are drawn F times as often, and every request carries the importance
 * weight p_production / p_sampled, so weighted results are the production view again.
 */
export interface LongTail {
  /** An outcome is rare when its probability (a class, an endpoint) or its tail probability (a length) is below this. */
  threshold: number
  /** How many times more often rare outcomes are drawn (capped so rare outcomes are at most half the draws). */
  factor: number
}

export const DEFAULT_LONG_TAIL: LongTail = Object.freeze({ threshold: 1e-4, factor: 100 })

/** Rare outcomes never take more than this share of the draws, whatever the factor. */
export const MAX_RARE_SHARE = 0.5

/** `threshold=1e-4,factor=100` (either may be left out: 1e-4 and 100). */
export function parseLongTail(text: string, where = '--long-tail'): LongTail {
  const out: LongTail = { ...DEFAULT_LONG_TAIL }
  const fail = (problem: string): never => { throw new RunConfigError(`${where}: "${text}": ${problem}`) }
  const seen = new Set<string>()
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=')
    if (eq < 0) fail(`expected key=value, got "${part}" (e.g. threshold=1e-4,factor=100)`)
    const key = part.slice(0, eq).trim()
    const raw = part.slice(eq + 1).trim()
    const v = Number(raw)
    if (seen.has(key)) fail(`${key} is given twice`)
    seen.add(key)
    if (key === 'threshold') {
      if (raw === '' || !(v > 0 && v < 0.5)) fail(`threshold must be a probability in (0, 0.5), got "${raw}"`)
      out.threshold = v
    } else if (key === 'factor') {
      if (raw === '' || !(v >= 1) || !Number.isFinite(v)) fail(`factor must be a number >= 1, got "${raw}"`)
      out.factor = v
    } else {
      fail(`unknown key "${key}" (keys: threshold, factor)`)
    }
  }
  return out
}

/**
 * A discrete distribution and its oversampled version: draw indices with `sample`, weight them
 * with `ratio[i]` = p[i] / q[i]. Rare outcomes get q = F·p, the others share what is left in
 * proportion to p, so E_q[ratio · f] = E_p[f] for any f: the weighted results are unbiased.
 */
export interface TiltedTable {
  readonly values: readonly number[]
  /** Production probabilities. */
  readonly p: Float64Array
  /** Sampling probabilities. */
  readonly q: Float64Array
  readonly ratio: Float64Array
  readonly rare: Uint8Array
  /** Production probability of the rare outcomes, and the share of draws they get. */
  readonly rareMass: number
  readonly sampledRareMass: number
  sample(rng: Rng): number
}

/**
 * Which outcomes are rare: 'tails' for ordered outcomes (lengths: P(X ≤ v) or P(X ≥ v) below the
 * threshold, so both the shortest and the longest are oversampled), 'values' for unordered ones
 * (classes, endpoints: p(v) below the threshold).
 */
export type RareRule = 'tails' | 'values'

export function tiltTable(values: readonly number[], probs: ArrayLike<number>, lt: LongTail, rule: RareRule): TiltedTable {
  const n = values.length
  if (n === 0 || probs.length !== n) throw new RunConfigError(`long tail: a distribution needs as many probabilities as values (${n} values, ${probs.length} probabilities)`)
  let total = 0
  for (let i = 0; i < n; i++) {
    const x = probs[i]
    if (!(x >= 0) || !Number.isFinite(x)) throw new RunConfigError(`long tail: probability ${x} of value ${values[i]} is not a non-negative number`)
    total += x
  }
  if (!(total > 0)) throw new RunConfigError('long tail: the distribution has no mass')
  const p = new Float64Array(n)
  for (let i = 0; i < n; i++) p[i] = probs[i] / total
  const rare = new Uint8Array(n)
  if (rule === 'values') {
    for (let i = 0; i < n; i++) if (p[i] > 0 && p[i] < lt.threshold) rare[i] = 1
  } else {
    let below = 0
    for (let i = 0; i < n; i++) {
      below += p[i]
      if (p[i] > 0 && below < lt.threshold) rare[i] = 1
    }
    let above = 0
    for (let i = n - 1; i >= 0; i--) {
      above += p[i]
      if (p[i] > 0 && above < lt.threshold) rare[i] = 1
    }
  }
  let rareMass = 0
  for (let i = 0; i < n; i++) if (rare[i] === 1) rareMass += p[i]
  // Everything rare (a tiny class list) or nothing rare: nothing to shift, weights are 1.
  const sampledRareMass = rareMass > 0 && rareMass < 1 ? Math.min(MAX_RARE_SHARE, Math.max(rareMass, lt.factor * rareMass)) : rareMass
  const up = rareMass > 0 ? sampledRareMass / rareMass : 1
  const down = rareMass < 1 ? (1 - sampledRareMass) / (1 - rareMass) : 1
  const q = new Float64Array(n)
  const ratio = new Float64Array(n)
  const cum = new Float64Array(n)
  let acc = 0
  for (let i = 0; i < n; i++) {
    const s = rare[i] === 1 ? up : down
    q[i] = p[i] * s
    ratio[i] = p[i] > 0 ? 1 / s : 0
    acc += q[i]
    cum[i] = acc
  }
  for (let i = 0; i < n; i++) cum[i] /= acc
  cum[n - 1] = 1
  return {
    values,
    p,
    q,
    ratio,
    rare,
    rareMass,
    sampledRareMass,
    sample(rng: Rng): number {
      const u = rng.next()
      let lo = 0
      let hi = n - 1
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (cum[mid] > u) hi = mid
        else lo = mid + 1
      }
      return lo
    }
  }
}

/** Largest length range turned into a table (2^20 values: 8 MB per table). */
export const MAX_TABLE_VALUES = 1 << 20

/**
 * The probabilities of the integer lengths min..max of a distribution given by its CDF. The
 * differences lose relative precision only far below the thresholds that matter here (1e-12).
 */
export function tableFromCdf(min: number, max: number, cdf: (k: number) => number, where: string): { values: number[]; probs: Float64Array } {
  const n = max - min + 1
  if (!(n >= 1) || n > MAX_TABLE_VALUES) {
    throw new RunConfigError(`${where}: long-tail oversampling needs the length range as a table, and ${min}..${max} has more than ${MAX_TABLE_VALUES} values; lower its max`)
  }
  const values = new Array<number>(n)
  const probs = new Float64Array(n)
  let prev = cdf(min - 1)
  for (let i = 0; i < n; i++) {
    const k = min + i
    const c = cdf(k)
    values[i] = k
    probs[i] = Math.max(0, c - prev)
    prev = c
  }
  return { values, probs }
}
