import type { Rng } from './rng.ts'
import { normalInvCdf, logGamma } from './special-functions.ts'

/**
 * Variates from the standard distributions, drawn from an injected Rng so they are reproducible.
 * All are exact methods (inversion or exact rejection), not approximations.
 */

/** Uniform on the open interval (0, 1): never 0, so logarithms and inverse CDFs stay finite. */
export function uniformOpen(rng: Rng): number {
  // Redrawing the single value 0 (probability 2^-53) is exact; shifting by half a cell instead
  // would round the top cell up to 1.
  let u = rng.next()
  while (u === 0) u = rng.next()
  return u
}

/** Uniform integer in [0, n) for 0 < n <= 2^53 (53-bit multiply; bias below 2^-53 * n). */
export function uniformInt(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n)
}

/** Standard normal by inversion (AS241), one uniform per variate. */
export function sampleNormal(rng: Rng): number {
  return normalInvCdf(uniformOpen(rng))
}

/** Exponential with mean 1 by inversion. */
export function sampleExponential(rng: Rng): number {
  return -Math.log(1 - rng.next())
}

/**
 * Gamma(shape, scale 1): Marsaglia & Tsang (2000), exact rejection with ~1.03 normals per variate
 * for shape >= 1. For shape < 1 it uses their boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
 */
export function sampleGamma(rng: Rng, shape: number): number {
  if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`gamma shape must be a positive finite number, got ${shape}`)
  if (shape < 1) {
    const g = sampleGamma(rng, shape + 1)
    return g * Math.exp(Math.log(uniformOpen(rng)) / shape)
  }
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (;;) {
    let x: number
    let v: number
    do {
      x = sampleNormal(rng)
      v = 1 + c * x
    } while (v <= 0)
    v = v * v * v
    const u = uniformOpen(rng)
    const x2 = x * x
    if (u < 1 - 0.0331 * x2 * x2) return d * v
    if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v
  }
}

/**
 * Poisson(mean), exact for every mean. Below mean 10: multiplication of uniforms (Knuth), which is
 * O(mean). From 10 up: Hörmann's PTRS transformed rejection (1993), O(1) expected, exact.
 */
export function samplePoisson(rng: Rng, mean: number): number {
  if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`poisson mean must be a non-negative finite number, got ${mean}`)
  if (mean === 0) return 0
  if (mean < 10) {
    const limit = Math.exp(-mean)
    let k = 0
    let prod = rng.next()
    while (prod > limit) {
      k++
      prod *= rng.next()
    }
    return k
  }
  const logMean = Math.log(mean)
  const b = 0.931 + 2.53 * Math.sqrt(mean)
  const a = -0.059 + 0.02483 * b
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4)
  const vr = 0.9277 - 3.6224 / (b - 2)
  for (;;) {
    const u = rng.next() - 0.5
    const v = rng.next()
    const us = 0.5 - Math.abs(u)
    const k = Math.floor((2 * a / us + b) * u + mean + 0.43)
    if (us >= 0.07 && v <= vr) return k
    if (k < 0 || (us < 0.013 && v > us)) continue
    if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -mean + k * logMean - logGamma(k + 1)) return k
  }
}
