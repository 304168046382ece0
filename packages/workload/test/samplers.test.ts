import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRng, sampleNormal, sampleExponential, sampleGamma, samplePoisson, uniformOpen, uniformInt } from '../src/index.ts'
import { draw, gammaCdf, ksContinuous, ksCritical, ksDiscrete, lnGamma, moments, refNormalCdf } from './stats.ts'

const N = 20_000

test('uniformOpen never returns 0 and uniformInt stays in range', () => {
  const r = createRng('open')
  for (let i = 0; i < N; i++) {
    const u = uniformOpen(r)
    assert.ok(u > 0 && u < 1)
    const k = uniformInt(r, 7)
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7)
  }
})

test('standard normal: mean 0, variance 1, and KS against Φ', () => {
  const r = createRng('normal')
  const xs = draw(N, () => sampleNormal(r))
  const m = moments(xs)
  assert.ok(Math.abs(m.mean) < 4 * m.seMean, `mean ${m.mean}`)
  assert.ok(Math.abs(m.variance - 1) < 4 * m.seVariance, `variance ${m.variance}`)
  assert.ok(ksContinuous(xs, refNormalCdf) < ksCritical(N))
})

test('exponential: mean 1, variance 1, KS against 1 - e^-x', () => {
  const r = createRng('exp')
  const xs = draw(N, () => sampleExponential(r))
  const m = moments(xs)
  assert.ok(Math.abs(m.mean - 1) < 4 * m.seMean)
  assert.ok(Math.abs(m.variance - 1) < 4 * m.seVariance)
  assert.ok(ksContinuous(xs, (x) => 1 - Math.exp(-x)) < ksCritical(N))
})

for (const shape of [0.1, 0.25, 1, 4, 30]) {
  test(`gamma(shape ${shape}): mean = variance = shape, KS against the exact gamma CDF`, () => {
    const r = createRng(`gamma-${shape}`)
    const xs = draw(N, () => sampleGamma(r, shape))
    for (const x of xs) assert.ok(x >= 0)
    const m = moments(xs)
    assert.ok(Math.abs(m.mean - shape) < 4 * m.seMean, `mean ${m.mean}`)
    assert.ok(Math.abs(m.variance - shape) < 4 * m.seVariance, `variance ${m.variance}`)
    const d = ksContinuous(xs, (x) => gammaCdf(shape, x))
    assert.ok(d < ksCritical(N), `KS ${d}`)
  })
}

test('gamma rejects a non-positive shape', () => {
  assert.throws(() => sampleGamma(createRng(1), 0), RangeError)
  assert.throws(() => sampleGamma(createRng(1), Number.NaN), RangeError)
})

for (const mean of [0.5, 3.7, 10, 57.3, 2500]) {
  test(`poisson(${mean}): exact pmf (KS), mean and variance`, () => {
    const r = createRng(`poisson-${mean}`)
    const xs = draw(N, () => samplePoisson(r, mean))
    for (const x of xs) assert.ok(Number.isInteger(x) && x >= 0)
    const m = moments(xs)
    assert.ok(Math.abs(m.mean - mean) < 4 * m.seMean, `mean ${m.mean}`)
    assert.ok(Math.abs(m.variance - mean) < 4 * m.seVariance, `variance ${m.variance}`)
    const hi = Math.ceil(mean + 12 * Math.sqrt(mean) + 20)
    const cdf: number[] = []
    let acc = 0
    for (let k = 0; k <= hi; k++) {
      acc += Math.exp(-mean + k * Math.log(mean) - lnGamma(k + 1))
      cdf.push(acc)
    }
    const d = ksDiscrete(xs, (k) => cdf[k], 0, hi)
    assert.ok(d < ksCritical(N), `KS ${d}`)
  })
}

test('poisson(0) is 0', () => {
  assert.equal(samplePoisson(createRng(1), 0), 0)
})
