/**
 * Statistics helpers for the distribution tests: sample moments, Kolmogorov–Smirnov distances
 * against exact CDFs, and a few exact reference CDFs written independently of src/.
 */

export interface Moments {
  n: number
  mean: number
  variance: number
  /** Standard error of the sample mean. */
  seMean: number
  /** Standard error of the sample variance, from the sample's fourth central moment. */
  seVariance: number
}

export function moments(xs: ArrayLike<number>): Moments {
  const n = xs.length
  let sum = 0
  for (let i = 0; i < n; i++) sum += xs[i]
  const mean = sum / n
  let m2 = 0
  let m4 = 0
  for (let i = 0; i < n; i++) {
    const d = xs[i] - mean
    const d2 = d * d
    m2 += d2
    m4 += d2 * d2
  }
  const variance = m2 / (n - 1)
  m4 /= n
  const pop = m2 / n
  return { n, mean, variance, seMean: Math.sqrt(variance / n), seVariance: Math.sqrt(Math.max(0, m4 - pop * pop) / n) }
}

/** Critical value of the KS statistic at significance 0.001 (asymptotic; conservative for discrete laws). */
export function ksCritical(n: number): number {
  return 1.9495 / Math.sqrt(n)
}

/** One-sample KS distance of continuous samples against a continuous CDF. */
export function ksContinuous(xs: ArrayLike<number>, cdf: (x: number) => number): number {
  const sorted = Float64Array.from(xs).sort()
  const n = sorted.length
  let d = 0
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i])
    d = Math.max(d, (i + 1) / n - f, f - i / n)
  }
  return d
}

/** KS distance of integer samples against an exact discrete CDF, over every integer in [lo, hi]. */
export function ksDiscrete(xs: ArrayLike<number>, cdf: (k: number) => number, lo: number, hi: number): number {
  const counts = new Map<number, number>()
  for (let i = 0; i < xs.length; i++) counts.set(xs[i], (counts.get(xs[i]) ?? 0) + 1)
  let acc = 0
  let d = 0
  for (let k = lo; k <= hi; k++) {
    acc += counts.get(k) ?? 0
    d = Math.max(d, Math.abs(acc / xs.length - cdf(k)))
  }
  return d
}

export function draw(n: number, f: () => number): Float64Array {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = f()
  return out
}

/** ln Γ by Stirling's series with upward shift: an implementation independent of src/. */
export function lnGamma(x: number): number {
  let shift = 0
  while (x < 15) {
    shift += Math.log(x)
    x += 1
  }
  const x2 = x * x
  const series = 1 / (12 * x) - 1 / (360 * x * x2) + 1 / (1260 * x2 * x2 * x) - 1 / (1680 * x2 * x2 * x2 * x)
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift
}

/** Regularised lower incomplete gamma P(a, x) (series below a+1, Lentz continued fraction above). */
export function gammaCdf(a: number, x: number): number {
  if (x <= 0) return 0
  const lnPre = a * Math.log(x) - x - lnGamma(a)
  if (x < a + 1) {
    let term = 1 / a
    let sum = term
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n)
      sum += term
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break
    }
    return sum * Math.exp(lnPre)
  }
  const tiny = 1e-300
  let b = x + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 1e-16) break
  }
  return 1 - Math.exp(lnPre) * h
}

/** Standard normal CDF from erfc by its continued fraction / series, independent of src/. */
export function refNormalCdf(x: number): number {
  // Φ(x) = P(1/2, x²/2)/2 + 1/2 for x >= 0, by the incomplete gamma above.
  const p = gammaCdf(0.5, (x * x) / 2) / 2
  return x >= 0 ? 0.5 + p : 0.5 - p
}
