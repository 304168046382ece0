import type { Rng, LengthSampler, LengthSpec } from '@loadmesh/workload'
import { createLengthSampler, createRng } from '@loadmesh/workload'
import type { LengthDistribution } from './types.ts'

/**
 * A length distribution ready to use. Single log-normals and negative binomials are
 * @loadmesh/workload's length samplers (so a fitted model and a `--input-tokens lognormal:...`
 * spec sample the very same way); mixtures pick a component and sample it; the empirical
 * distribution is an inverse-CDF table.
 */
export interface LengthModel {
  readonly min: number
  readonly max: number
  /** Exact P(length <= k). */
  cdf(k: number): number
  /** Smallest k with cdf(k) >= p, for p in (0, 1]. */
  quantile(p: number): number
  mean(): number
  /** A sampling function drawing from `rng`. */
  sampler(rng: Rng): () => number
}

/** The (untruncated) mean and stdev of a log-normal given μ and σ of its logarithm. */
export function logNormalMoments (mu: number, sigma: number): { mean: number; stdev: number } {
  const s2 = sigma * sigma
  const mean = Math.exp(mu + s2 / 2)
  return { mean, stdev: mean * Math.sqrt(Math.expm1(s2)) }
}

export function lognormalSpec (mu: number, sigma: number, min: number, max: number): LengthSpec {
  const { mean, stdev } = logNormalMoments(mu, sigma)
  return { kind: 'lognormal', mean, stdev, min, max }
}

// Only cdf/mean are used from these; the stream is never drawn from.
const NO_RNG = createRng('workload-models/cdf-only')

export function createLengthModel (d: LengthDistribution, where = 'length distribution'): LengthModel {
  switch (d.kind) {
    case 'lognormal':
      return single(lognormalSpec(d.mu, d.sigma, d.min, d.max), d.min, d.max, where)
    case 'negbin':
      return single({ kind: 'negbin', mean: d.mean, r: d.r, min: d.min, max: d.max }, d.min, d.max, where)
    case 'lognormal-mixture':
      return mixture(d.components.map((c) => ({ weight: c.weight, spec: lognormalSpec(c.mu, c.sigma, d.min, d.max) })), d.min, d.max, where)
    case 'negbin-mixture':
      return mixture(d.components.map((c) => ({ weight: c.weight, spec: { kind: 'negbin', mean: c.mean, r: c.r, min: d.min, max: d.max } as LengthSpec })), d.min, d.max, where)
    case 'empirical':
      return empirical(d.values, d.counts)
  }
}

function bisectQuantile (cdf: (k: number) => number, min: number, max: number, p: number): number {
  let lo = min
  let hi = max
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (cdf(mid) >= p) hi = mid
    else lo = mid + 1
  }
  return lo
}

function single (spec: LengthSpec, min: number, max: number, where: string): LengthModel {
  const reference: LengthSampler = createLengthSampler(spec, NO_RNG, where)
  const cdf = (k: number): number => reference.cdf(k)
  return {
    min,
    max,
    cdf,
    quantile: (p) => bisectQuantile(cdf, min, max, p),
    mean: () => reference.mean(),
    sampler: (rng) => {
      const s = createLengthSampler(spec, rng, where)
      return () => s.sample()
    }
  }
}

function mixture (parts: Array<{ weight: number; spec: LengthSpec }>, min: number, max: number, where: string): LengthModel {
  const total = parts.reduce((s, p) => s + p.weight, 0)
  const weights = parts.map((p) => p.weight / total)
  const refs = parts.map((p, i) => createLengthSampler(p.spec, NO_RNG, `${where} component ${i}`))
  const cumulative: number[] = []
  let acc = 0
  for (const w of weights) cumulative.push((acc += w))
  cumulative[cumulative.length - 1] = 1
  const cdf = (k: number): number => {
    let s = 0
    for (let i = 0; i < refs.length; i++) s += weights[i] * refs[i].cdf(k)
    return s
  }
  return {
    min,
    max,
    cdf,
    quantile: (p) => bisectQuantile(cdf, min, max, p),
    mean: () => refs.reduce((s, r, i) => s + weights[i] * r.mean(), 0),
    sampler: (rng) => {
      const samplers = parts.map((p, i) => createLengthSampler(p.spec, rng, `${where} component ${i}`))
      return () => {
        const u = rng.next()
        let i = 0
        while (cumulative[i] <= u) i++
        return samplers[i].sample()
      }
    }
  }
}

function empirical (values: readonly number[], counts: readonly number[]): LengthModel {
  const total = counts.reduce((s, c) => s + c, 0)
  const cum = new Float64Array(values.length)
  let acc = 0
  for (let i = 0; i < values.length; i++) cum[i] = (acc += counts[i]) / total
  cum[cum.length - 1] = 1
  // Index of the last value <= k, or -1.
  const indexAtOrBelow = (k: number): number => {
    let lo = 0
    let hi = values.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (values[mid] <= k) lo = mid + 1
      else hi = mid
    }
    return lo - 1
  }
  const firstAbove = (u: number): number => {
    let lo = 0
    let hi = cum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cum[mid] > u) hi = mid
      else lo = mid + 1
    }
    return values[lo]
  }
  let mean = 0
  for (let i = 0; i < values.length; i++) mean += values[i] * counts[i] / total
  return {
    min: values[0],
    max: values[values.length - 1],
    cdf: (k) => {
      const i = indexAtOrBelow(k)
      return i < 0 ? 0 : cum[i]
    },
    quantile: (p) => {
      let lo = 0
      let hi = cum.length - 1
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (cum[mid] >= p) hi = mid
        else lo = mid + 1
      }
      return values[lo]
    },
    mean: () => mean,
    sampler: (rng) => () => firstAbove(rng.next())
  }
}
