import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createDurationSampler, createRng, formatDurationSpec, normalCdf, parseDurationSpec, WorkloadSpecError } from '../src/index.ts'
import type { DurationSpec } from '../src/index.ts'
import { draw, ksContinuous, ksCritical, moments } from './stats.ts'

const N = 20_000

/** Exact CDF and moments of a truncated log-normal, written out here independently of src/. */
function truncatedLogNormal(mean: number, stdev: number, lo: number, hi: number) {
  const s2 = Math.log(1 + (stdev / mean) ** 2)
  const mu = Math.log(mean) - s2 / 2
  const s = Math.sqrt(s2)
  const z = (x: number): number => (x <= 0 ? Number.NEGATIVE_INFINITY : (Math.log(x) - mu) / s)
  const mass = (a: number, b: number): number => (a >= 0 ? normalCdf(-a) - normalCdf(-b) : normalCdf(b) - normalCdf(a))
  const alpha = z(lo)
  const beta = z(hi)
  const Z = mass(alpha, beta)
  const m1 = Math.exp(mu + s2 / 2) * mass(alpha - s, beta - s) / Z
  const m2 = Math.exp(2 * mu + 2 * s2) * mass(alpha - 2 * s, beta - 2 * s) / Z
  return {
    cdf: (x: number): number => (x <= lo ? 0 : x >= hi ? 1 : mass(alpha, z(x)) / Z),
    mean: m1,
    variance: m2 - m1 * m1
  }
}

test('plain durations and fixed: are fixed', () => {
  assert.deepEqual(parseDurationSpec('100ms'), { kind: 'fixed', value: 100 })
  assert.deepEqual(parseDurationSpec('1.5s'), { kind: 'fixed', value: 1500 })
  assert.deepEqual(parseDurationSpec('fixed:250us'), { kind: 'fixed', value: 0.25 })
  assert.deepEqual(parseDurationSpec('40'), { kind: 'fixed', value: 40 })
  const s = createDurationSampler(parseDurationSpec('12ms'), createRng(1))
  for (let i = 0; i < 100; i++) assert.equal(s.sample(), 12)
  assert.equal(s.mean(), 12)
  assert.equal(s.stdev(), 0)
})

test('lognormal and uniform parse with units and defaults (min 0, no max)', () => {
  assert.deepEqual(parseDurationSpec('uniform:min=5ms,max=15ms'), { kind: 'uniform', min: 5, max: 15 })
  assert.deepEqual(parseDurationSpec('lognormal:mean=100ms,stdev=20ms,min=1ms,max=5s'),
    { kind: 'lognormal', mean: 100, stdev: 20, min: 1, max: 5000 })
  assert.deepEqual(parseDurationSpec('lognormal:mean=1.2s,stdev=300ms'), { kind: 'lognormal', mean: 1200, stdev: 300, min: 0, max: null })
})

test('formatDurationSpec round-trips', () => {
  for (const text of ['fixed:100ms', 'fixed:1.5s', 'fixed:250us', 'uniform:min=5ms,max=15ms', 'lognormal:mean=100ms,stdev=20ms,min=1ms,max=5s',
    'lognormal:mean=2s,stdev=500us']) {
    assert.equal(formatDurationSpec(parseDurationSpec(text)), text)
  }
  const ms = fc.oneof(fc.integer({ min: 0, max: 3_600_000 }), fc.double({ min: 0.001, max: 1e6, noNaN: true }))
  const specArb: fc.Arbitrary<DurationSpec> = fc.oneof(
    ms.map((value) => ({ kind: 'fixed' as const, value })),
    fc.tuple(ms, ms).map(([a, b]) => ({ kind: 'uniform' as const, min: Math.min(a, b), max: Math.max(a, b) })),
    fc.tuple(ms, ms, ms, fc.option(ms)).map(([mean, stdev, min, max]) =>
      ({ kind: 'lognormal' as const, mean: mean + 1, stdev: stdev + 0.5, min, max: max === null ? null : min + max + 1 }))
  )
  fc.assert(fc.property(specArb, (spec) => {
    try {
      createDurationSampler(spec, createRng(0))
    } catch (e) {
      return e instanceof WorkloadSpecError && /holds practically none/.test(e.message)
    }
    assert.deepEqual(parseDurationSpec(formatDurationSpec(spec)), spec)
    return true
  }), { seed: 5, numRuns: 300 })
})

const CASES: Array<[string, string]> = [
  ['untruncated log-normal', 'lognormal:mean=100ms,stdev=20ms'],
  ['log-normal cut on both sides', 'lognormal:mean=100ms,stdev=80ms,min=50ms,max=150ms'],
  ['log-normal window in the far upper tail', 'lognormal:mean=100ms,stdev=10ms,min=150ms,max=300ms'],
  ['heavy log-normal with a cap', 'lognormal:mean=20ms,stdev=60ms,min=1ms,max=5s'],
  ['uniform', 'uniform:min=5ms,max=15ms']
]

for (const [name, text] of CASES) {
  test(`${name} (${text}): samples follow the exact distribution`, () => {
    const spec = parseDurationSpec(text, '--sim-itl')
    const sampler = createDurationSampler(spec, createRng('durations').split(text))
    const xs = draw(N, () => sampler.sample())
    let exact: { cdf: (x: number) => number; mean: number; variance: number }
    let lo: number
    let hi: number
    if (spec.kind === 'lognormal') {
      lo = spec.min
      hi = spec.max ?? Number.POSITIVE_INFINITY
      exact = truncatedLogNormal(spec.mean, spec.stdev, lo, hi)
    } else if (spec.kind === 'uniform') {
      lo = spec.min
      hi = spec.max
      exact = { cdf: (x) => Math.min(1, Math.max(0, (x - lo) / (hi - lo))), mean: (lo + hi) / 2, variance: (hi - lo) ** 2 / 12 }
    } else {
      throw new Error('unexpected')
    }
    for (const x of xs) assert.ok(x >= lo && x <= hi, `sample ${x} outside [${lo}, ${hi}]`)
    assert.ok(Math.abs(sampler.mean() - exact.mean) < 1e-9 * exact.mean, `mean() ${sampler.mean()} vs ${exact.mean}`)
    assert.ok(Math.abs(sampler.stdev() - Math.sqrt(exact.variance)) < 1e-6 * Math.sqrt(exact.variance))
    const m = moments(xs)
    assert.ok(Math.abs(m.mean - exact.mean) < 4.5 * m.seMean, `sample mean ${m.mean} vs ${exact.mean}`)
    assert.ok(Math.abs(m.variance - exact.variance) < 4.5 * m.seVariance, `sample variance ${m.variance} vs ${exact.variance}`)
    const d = ksContinuous(xs, exact.cdf)
    assert.ok(d < ksCritical(N), `KS ${d}`)
    for (const x of [lo, (lo + Math.min(hi, 1e4)) / 2]) assert.ok(Math.abs(sampler.cdf(x) - exact.cdf(x)) < 1e-12)
  })
}

test('an untruncated log-normal has exactly the mean and stdev it was given', () => {
  const s = createDurationSampler(parseDurationSpec('lognormal:mean=250ms,stdev=75ms'), createRng(2))
  assert.ok(Math.abs(s.mean() - 250) < 1e-9)
  assert.ok(Math.abs(s.stdev() - 75) < 1e-6)
})

const BAD: Array<[string, RegExp]> = [
  ['', /empty duration spec/],
  ['soon', /unknown kind "soon" \(valid kinds: fixed, uniform, lognormal/],
  ['gamma:shape=2', /unknown kind "gamma" \(valid kinds: fixed, uniform, lognormal/],
  ['100 parsecs', /fixed duration must be a duration like 100ms or 1\.5s, got "100 parsecs"/],
  ['fixed:', /fixed needs a value/],
  ['lognormal:mean=abc,stdev=5ms', /mean must be a duration like 100ms or 1\.5s, got "abc"/],
  ['lognormal:mean=100ms', /missing parameter "stdev" \(lognormal takes mean, stdev, min, max/],
  ['lognormal:mean=0ms,stdev=5ms', /mean must be a positive duration, got 0/],
  ['lognormal:mean=100ms,stdev=20ms,p99=1s', /unknown parameter "p99"/],
  ['lognormal:mean=100ms,stdev=20ms,min=5s,max=1s', /min \(5s\) must be below max \(1s\)/],
  ['lognormal:mean=100ms,stdev=1ms,min=10s', /\[min=10s, max=none\] holds practically none of the distribution \(probability .*\); check min\/max against mean=100ms/],
  ['uniform:min=15ms,max=5ms', /min \(15ms\) must not exceed max \(5ms\)/],
  ['uniform:min=-1ms,max=5ms', /min must be a duration like 100ms or 1\.5s, got "-1ms"/],
  ['uniform:max=5ms', /missing parameter "min"/]
]

test('every kind of bad duration spec gets an error naming where, the whole text and the bad part', () => {
  for (const [text, re] of BAD) {
    assert.throws(() => parseDurationSpec(text, '--sim-ttft'), (e: unknown) => {
      assert.ok(e instanceof WorkloadSpecError && e.code === 'ERR_BAD_SPEC', `${text}: ${String(e)}`)
      assert.ok(e.message.startsWith(`--sim-ttft: "${text}": `), e.message)
      assert.match(e.message, re)
      return true
    }, `no error for "${text}"`)
  }
  assert.throws(() => createDurationSampler({ kind: 'uniform', min: Number.NaN, max: 1 }, createRng(1)), /min must be a non-negative finite number/)
})
