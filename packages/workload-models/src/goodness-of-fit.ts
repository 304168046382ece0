import type { Grouped } from './numeric.ts'
import type { QqPoint } from './types.ts'

/**
 * Kolmogorov-Smirnov distance sup_x |F_n(x) − F(x)| between grouped integer data and a CDF on
 * the integers. Both are step functions jumping only at integers and F_n is flat between data
 * values, so the supremum is reached at a data value v or just below it (v − 1).
 */
export function ksDistance (data: Grouped, cdf: (k: number) => number): number {
  let d = 0
  let acc = 0
  for (let i = 0; i < data.values.length; i++) {
    const v = data.values[i]
    const below = cdf(v - 1)
    d = Math.max(d, Math.abs(below - acc / data.n))
    acc += data.counts[i]
    d = Math.max(d, Math.abs(cdf(v) - acc / data.n))
  }
  return d
}

/** Empirical CDF of grouped data, as a function. */
export function empiricalCdf (data: Grouped): (k: number) => number {
  const cum: number[] = []
  let acc = 0
  for (const c of data.counts) cum.push((acc += c) / data.n)
  return (k) => {
    let lo = 0
    let hi = data.values.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (data.values[mid] <= k) lo = mid + 1
      else hi = mid
    }
    return lo === 0 ? 0 : cum[lo - 1]
  }
}

/** Two-sample KS distance between grouped integer samples. */
export function twoSampleKs (a: Grouped, b: Grouped): number {
  return Math.max(ksDistance(a, empiricalCdf(b)), ksDistance(b, empiricalCdf(a)))
}

export const QQ_PROBABILITIES: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]

/** Smallest data value whose empirical CDF reaches p. */
export function empiricalQuantile (data: Grouped, p: number): number {
  let acc = 0
  for (let i = 0; i < data.values.length; i++) {
    acc += data.counts[i]
    if (acc / data.n >= p - 1e-12) return data.values[i]
  }
  return data.values[data.values.length - 1]
}

export function qqPoints (data: Grouped, quantile: (p: number) => number): QqPoint[] {
  return QQ_PROBABILITIES.map((p) => ({ p, data: empiricalQuantile(data, p), model: quantile(p) }))
}
