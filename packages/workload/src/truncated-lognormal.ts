import type { Rng } from './rng.ts'
import { normalCdf, normalInvCdf, normalMass } from './special-functions.ts'
import { uniformOpen } from './samplers.ts'

/**
 * μ and σ of the log-normal whose (untruncated) mean and standard deviation are `mean` and `stdev`:
 * σ² = ln(1 + stdev²/mean²), μ = ln(mean) − σ²/2.
 */
export function logNormalParams(mean: number, stdev: number): { mu: number; sigma: number } {
  const s2 = Math.log1p((stdev * stdev) / (mean * mean))
  return { mu: Math.log(mean) - s2 / 2, sigma: Math.sqrt(s2) }
}

/**
 * A log-normal truncated to [lo, hi] (0 <= lo < hi <= Infinity), sampled exactly by inversion:
 * Z = Φ⁻¹(U) with U uniform on [Φ(α), Φ(β)], X = exp(μ + σZ). When the window lies in the upper
 * half (α >= 0) it works on the mirrored window [−β, −α], where Φ is small and carries full
 * relative precision, so even far-tail windows sample correctly.
 */
export class TruncatedLogNormal {
  readonly mu: number
  readonly sigma: number
  readonly lo: number
  readonly hi: number
  /** Standardised bounds: α = z(lo), β = z(hi) (±Infinity for lo = 0, hi = Infinity). */
  readonly alpha: number
  readonly beta: number
  /** Probability of [lo, hi] under the untruncated distribution. */
  readonly mass: number
  readonly #mirror: boolean
  readonly #pLo: number
  readonly #pWidth: number

  constructor(mean: number, stdev: number, lo: number, hi: number) {
    const { mu, sigma } = logNormalParams(mean, stdev)
    this.mu = mu
    this.sigma = sigma
    this.lo = lo
    this.hi = hi
    this.alpha = this.z(lo)
    this.beta = this.z(hi)
    this.mass = normalMass(this.alpha, this.beta)
    this.#mirror = this.alpha >= 0
    const a = this.#mirror ? -this.beta : this.alpha
    const b = this.#mirror ? -this.alpha : this.beta
    this.#pLo = normalCdf(a)
    this.#pWidth = normalCdf(b) - this.#pLo
  }

  /** Standardised log: (ln x − μ)/σ, −Infinity for x <= 0. */
  z(x: number): number {
    return x <= 0 ? Number.NEGATIVE_INFINITY : (Math.log(x) - this.mu) / this.sigma
  }

  /** The u-quantile of the truncated distribution, u in (0, 1). */
  quantile(u: number): number {
    let z = normalInvCdf(this.#pLo + u * this.#pWidth)
    if (this.#mirror) z = -z
    // Rounding in Φ⁻¹ may step a hair outside the window; the window is what was asked for.
    if (z < this.alpha) z = this.alpha
    else if (z > this.beta) z = this.beta
    const x = Math.exp(this.mu + this.sigma * z)
    return x < this.lo ? this.lo : x > this.hi ? this.hi : x
  }

  sample(rng: Rng): number {
    return this.quantile(uniformOpen(rng))
  }

  /** P(X <= x) for the truncated distribution. */
  cdf(x: number): number {
    if (x <= this.lo) return 0
    if (x >= this.hi) return 1
    return normalMass(this.alpha, this.z(x)) / this.mass
  }

  /** P(a < X <= b) for the truncated distribution, without cancellation in either tail. */
  massBetween(a: number, b: number): number {
    const za = Math.max(this.alpha, this.z(a))
    const zb = Math.min(this.beta, this.z(b))
    return normalMass(za, zb) / this.mass
  }

  /** Exact mean: E[X | lo<X<hi] = e^(μ+σ²/2) · (Φ(β−σ) − Φ(α−σ)) / (Φ(β) − Φ(α)). */
  mean(): number {
    const s = this.sigma
    return Math.exp(this.mu + s * s / 2) * normalMass(this.alpha - s, this.beta - s) / this.mass
  }

  /** Exact variance, from E[X²] = e^(2μ+2σ²) · (Φ(β−2σ) − Φ(α−2σ)) / (Φ(β) − Φ(α)). */
  variance(): number {
    const s = this.sigma
    const m2 = Math.exp(2 * this.mu + 2 * s * s) * normalMass(this.alpha - 2 * s, this.beta - 2 * s) / this.mass
    const m = this.mean()
    return Math.max(0, m2 - m * m)
  }
}
