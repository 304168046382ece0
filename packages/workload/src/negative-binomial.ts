import type { Rng } from './rng.ts'
import { logGamma } from './special-functions.ts'

/** Tail mass (relative to the window's) below which table entries are dropped: far below 2^-53. */
const NEGLIGIBLE = 1e-20

/**
 * A negative binomial with mean m and dispersion r (variance m + m²/r), truncated to [min, max]:
 * P(k) ∝ Γ(k+r)/(Γ(r) k!) · p^r (1−p)^k with p = r/(r+m). Sampling is exact inversion on a
 * cumulative table built once over the window, by the pmf's ratio recurrence from the window's mode
 * outwards (so nothing underflows, however far into the tail the window is). Entries whose total
 * mass is below 1e-20 of the window's are left out: no 53-bit uniform can select them anyway.
 * A sample is then one uniform and a binary search.
 */
export class TruncatedNegativeBinomial {
  /** First k in the table. */
  readonly first: number
  /** cdf[i] = P(K <= first + i) in the truncated distribution; the last entry is exactly 1. */
  readonly cdf: Float64Array
  /** ln P(min <= K <= max) under the untruncated distribution. */
  readonly logMass: number
  readonly #mean: number
  readonly #variance: number

  constructor(mean: number, r: number, min: number, max: number) {
    const q = mean / (mean + r)
    const logP = Math.log(r / (mean + r))
    const logQ = Math.log(q)
    // The pmf rises while (k+r)/(k+1)·q >= 1, i.e. up to k = (r−1)m/r; the window's mode is that,
    // clamped into the window, and weights fall monotonically away from it on both sides.
    const mode = r > 1 ? Math.floor(((r - 1) * mean) / r) : 0
    const k0 = Math.min(max, Math.max(min, mode))

    const up: number[] = [1]
    let sum = 1
    let w = 1
    for (let k = k0; k < max; k++) {
      const ratio = ((k + r) / (k + 1)) * q
      w *= ratio
      up.push(w)
      sum += w
      // Bound on everything after k+1: geometric with the largest ratio still to come (the ratios
      // fall towards q when r >= 1 and rise towards q when r < 1).
      const rho = r >= 1 ? ratio : q
      if (rho < 1 && (w * rho) / (1 - rho) < NEGLIGIBLE * sum) break
    }
    const down: number[] = []
    w = 1
    for (let k = k0; k > min; k--) {
      w *= k / ((k - 1 + r) * q)
      down.push(w)
      sum += w
      if (w * (k - 1 - min) < NEGLIGIBLE * sum) break
    }

    this.first = k0 - down.length
    const n = down.length + up.length
    const cdf = new Float64Array(n)
    let acc = 0
    let s1 = 0
    let s2 = 0
    const shift = k0 // moments about the mode, to keep the variance free of cancellation
    for (let i = 0; i < n; i++) {
      const weight = i < down.length ? down[down.length - 1 - i] : up[i - down.length]
      const d = this.first + i - shift
      acc += weight
      s1 += weight * d
      s2 += weight * d * d
      cdf[i] = acc
    }
    for (let i = 0; i < n; i++) cdf[i] /= acc
    cdf[n - 1] = 1
    this.cdf = cdf
    const m1 = s1 / acc
    this.#mean = shift + m1
    this.#variance = Math.max(0, s2 / acc - m1 * m1)
    const logPk0 = logGamma(k0 + r) - logGamma(r) - logGamma(k0 + 1) + r * logP + k0 * logQ
    this.logMass = logPk0 + Math.log(acc)
  }

  sample(rng: Rng): number {
    const u = rng.next()
    const cdf = this.cdf
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid] > u) hi = mid
      else lo = mid + 1
    }
    return this.first + lo
  }

  /** P(K <= k) in the truncated distribution. */
  cdfAt(k: number): number {
    const i = Math.floor(k) - this.first
    if (i < 0) return 0
    if (i >= this.cdf.length) return 1
    return this.cdf[i]
  }

  mean(): number {
    return this.#mean
  }

  variance(): number {
    return this.#variance
  }
}
