import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  createLengthSampler, createRng, formatLengthSpec, normalCdf, parseLengthSpec, WorkloadSpecError,
  DEFAULT_MAX_TOKENS, MAX_LENGTH_TOKENS
} from '../src/index.ts'
import type { LengthSpec } from '../src/index.ts'
import { draw, ksCritical, ksDiscrete, lnGamma, moments } from './stats.ts'

const N = 20_000

/** The exact pmf over [min, max], computed here from first principles (not with src's tables). */
function referencePmf(spec: LengthSpec): { lo: number; pmf: number[] } {
  if (spec.kind === 'fixed') return { lo: spec.value, pmf: [1] }
  const lo = spec.min
  const w: number[] = []
  if (spec.kind === 'uniform') {
    for (let k = spec.min; k <= spec.max; k++) w.push(1)
  } else if (spec.kind === 'lognormal') {
    const s2 = Math.log(1 + (spec.stdev / spec.mean) ** 2)
    const mu = Math.log(spec.mean) - s2 / 2
    const sigma = Math.sqrt(s2)
    // P(X in [k-½, k+½)), on the lower-tail side of the normal for accuracy
    const z = (x: number): number => (x <= 0 ? Number.NEGATIVE_INFINITY : (Math.log(x) - mu) / sigma)
    for (let k = spec.min; k <= spec.max; k++) {
      const a = z(k - 0.5)
      const b = z(k + 0.5)
      w.push(a >= 0 ? normalCdf(-a) - normalCdf(-b) : normalCdf(b) - normalCdf(a))
    }
  } else {
    const p = spec.r / (spec.r + spec.mean)
    const logs: number[] = []
    for (let k = spec.min; k <= spec.max; k++) {
      logs.push(lnGamma(k + spec.r) - lnGamma(spec.r) - lnGamma(k + 1) + spec.r * Math.log(p) + k * Math.log(1 - p))
    }
    let top = Number.NEGATIVE_INFINITY
    for (const l of logs) top = Math.max(top, l)
    for (const l of logs) w.push(Math.exp(l - top))
  }
  const total = w.reduce((a, b) => a + b, 0)
  return { lo, pmf: w.map((x) => x / total) }
}

function exactMoments(ref: { lo: number; pmf: number[] }): { mean: number; variance: number; cdf: (k: number) => number } {
  let mean = 0
  ref.pmf.forEach((p, i) => { mean += p * (ref.lo + i) })
  let variance = 0
  ref.pmf.forEach((p, i) => { variance += p * (ref.lo + i - mean) ** 2 })
  const cum: number[] = []
  let acc = 0
  for (const p of ref.pmf) cum.push((acc += p))
  const cdf = (k: number): number => (k < ref.lo ? 0 : k - ref.lo >= cum.length ? 1 : cum[k - ref.lo])
  return { mean, variance, cdf }
}

const CASES: Array<[string, string]> = [
  ['ordinary log-normal', 'lognormal:mean=512,stdev=256'],
  ['log-normal cut hard on both sides (clamping would pile up at 50 and 150)', 'lognormal:mean=100,stdev=80,min=50,max=150'],
  ['log-normal window in the far upper tail', 'lognormal:mean=100,stdev=20,min=200,max=400'],
  ['small log-normal where rounding matters, 0 allowed', 'lognormal:mean=3,stdev=2,min=0,max=20'],
  ['heavy-tailed log-normal', 'lognormal:mean=100,stdev=1000,max=20000'],
  ['negative binomial', 'negbin:mean=256,r=2'],
  ['negative binomial with r < 1 from 0', 'negbin:mean=10,r=0.5,min=0,max=50'],
  ['negative binomial window in the upper tail', 'negbin:mean=1000,r=50,min=1300,max=1600'],
  ['negative binomial close to Poisson', 'negbin:mean=5,r=1000000,min=0'],
  ['heavy negative binomial (long table)', 'negbin:mean=200,r=0.3,max=30000'],
  ['uniform', 'uniform:min=1,max=10'],
  ['wide uniform', 'uniform:min=100,max=5000'],
  ['fixed', 'fixed:77']
]

for (const [name, text] of CASES) {
  test(`${name} (${text}): samples follow the exact truncated distribution`, () => {
    const spec = parseLengthSpec(text, '--test')
    const sampler = createLengthSampler(spec, createRng('lengths').split(text))
    const xs = draw(N, () => sampler.sample())
    const lo = spec.kind === 'fixed' ? spec.value : spec.min
    const hi = spec.kind === 'fixed' ? spec.value : spec.max
    for (const x of xs) assert.ok(Number.isInteger(x) && x >= lo && x <= hi, `sample ${x} outside [${lo}, ${hi}]`)
    const exact = exactMoments(referencePmf(spec))
    // the sampler reports the exact moments of the truncated law
    assert.ok(Math.abs(sampler.mean() - exact.mean) <= 1e-9 * Math.max(1, exact.mean), `mean() ${sampler.mean()} vs ${exact.mean}`)
    assert.ok(Math.abs(sampler.stdev() - Math.sqrt(exact.variance)) <= 1e-6 * Math.max(1, Math.sqrt(exact.variance)),
      `stdev() ${sampler.stdev()} vs ${Math.sqrt(exact.variance)}`)
    for (const k of [lo - 1, lo, Math.round((lo + hi) / 2), hi]) {
      assert.ok(Math.abs(sampler.cdf(k) - exact.cdf(k)) < 1e-9, `cdf(${k})`)
    }
    const m = moments(xs)
    if (exact.variance === 0) {
      assert.equal(m.mean, exact.mean)
      return
    }
    assert.ok(Math.abs(m.mean - exact.mean) < 4.5 * m.seMean, `sample mean ${m.mean}, exact ${exact.mean} (se ${m.seMean})`)
    assert.ok(Math.abs(m.variance - exact.variance) < 4.5 * m.seVariance,
      `sample variance ${m.variance}, exact ${exact.variance} (se ${m.seVariance})`)
    const d = ksDiscrete(xs, exact.cdf, lo, hi)
    assert.ok(d < ksCritical(N), `KS distance ${d} >= ${ksCritical(N)}`)
  })
}

test('the same seed gives the same lengths', () => {
  const spec = parseLengthSpec('negbin:mean=300,r=1.5')
  const a = createLengthSampler(spec, createRng(9))
  const b = createLengthSampler(spec, createRng(9))
  assert.deepEqual(draw(200, () => a.sample()), draw(200, () => b.sample()))
})

test('specs parse to plain JSON objects with the documented defaults', () => {
  assert.deepEqual(parseLengthSpec('128'), { kind: 'fixed', value: 128 })
  assert.deepEqual(parseLengthSpec(' fixed:0 '), { kind: 'fixed', value: 0 })
  assert.deepEqual(parseLengthSpec('uniform:min=1,max=512'), { kind: 'uniform', min: 1, max: 512 })
  assert.deepEqual(parseLengthSpec('LogNormal: mean=512, stdev=128'),
    { kind: 'lognormal', mean: 512, stdev: 128, min: 1, max: DEFAULT_MAX_TOKENS })
  assert.deepEqual(parseLengthSpec('negbin:r=2.5,mean=1e3,max=4096,min=0'), { kind: 'negbin', mean: 1000, r: 2.5, min: 0, max: 4096 })
  const spec = parseLengthSpec('lognormal:mean=512,stdev=128,min=16,max=2048')
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec)
})

test('formatLengthSpec round-trips', () => {
  for (const text of ['fixed:5', 'uniform:min=0,max=0', 'lognormal:mean=512.5,stdev=0.25,min=3,max=9000', 'negbin:mean=7,r=0.01,min=0,max=100']) {
    assert.equal(formatLengthSpec(parseLengthSpec(text)), text)
  }
  const count = fc.integer({ min: 0, max: 20_000 })
  const positive = fc.double({ min: 0.01, max: 5000, noNaN: true, noDefaultInfinity: true })
  const specArb: fc.Arbitrary<LengthSpec> = fc.oneof(
    count.map((value) => ({ kind: 'fixed' as const, value })),
    fc.tuple(count, count).map(([a, b]) => ({ kind: 'uniform' as const, min: Math.min(a, b), max: Math.max(a, b) })),
    fc.tuple(positive, positive, count, count).map(([mean, stdev, a, b]) =>
      ({ kind: 'lognormal' as const, mean, stdev, min: Math.min(a, b), max: Math.max(a, b) })),
    fc.tuple(positive, positive, count, count).map(([mean, r, a, b]) =>
      ({ kind: 'negbin' as const, mean, r, min: Math.min(a, b), max: Math.max(a, b) }))
  )
  fc.assert(fc.property(specArb, (spec) => {
    try {
      createLengthSampler(spec, createRng(0))
    } catch (e) {
      // a window holding practically none of the distribution is refused; nothing else may be
      return e instanceof WorkloadSpecError && /holds practically none/.test(e.message)
    }
    assert.deepEqual(parseLengthSpec(formatLengthSpec(spec)), spec)
    return true
  }), { seed: 3, numRuns: 300 })
})

const BAD: Array<[string, RegExp]> = [
  ['', /empty length spec/],
  ['   ', /empty length spec/],
  ['zipf:a=1', /unknown kind "zipf" \(valid kinds: fixed, uniform, lognormal, negbin/],
  ['abc', /unknown kind "abc" \(valid kinds/],
  ['1.5', /fixed length must be a non-negative integer, got "1\.5"/],
  ['-3', /unknown kind "-3"|non-negative integer, got "-3"/],
  ['fixed:abc', /fixed length must be a non-negative integer, got "abc"/],
  ['fixed:', /fixed needs a value/],
  ['uniform:min=1', /missing parameter "max" \(uniform takes min, max/],
  ['uniform:min=1,max=2,mean=3', /unknown parameter "mean" \(uniform takes min, max/],
  ['uniform:min=5,max=1', /min \(5\) must not exceed max \(1\)/],
  ['uniform:min=1,min=2,max=3', /parameter "min" given twice/],
  ['uniform:min=1,max', /expected key=value, got "max"/],
  ['uniform:min=,max=3', /parameter "min" has no value/],
  ['uniform:min=1,,max=3', /empty parameter/],
  ['lognormal:mean=0,stdev=5', /mean must be a positive number, got "0"/],
  ['lognormal:mean=5,stdev=-1', /stdev must be a positive number, got "-1"/],
  ['lognormal:mean=5,stdev=1e999', /stdev must be a positive number, got "1e999"/],
  ['lognormal:stdev=5', /missing parameter "mean"/],
  ['lognormal', /missing parameter "mean"/],
  ['lognormal:mean=100,stdev=10,min=1.5', /min must be a non-negative integer, got "1\.5"/],
  ['lognormal:mean=100,stdev=10,max=99999999', /max must be at most 16777216 tokens, got 99999999/],
  ['lognormal:mean=100,stdev=10,min=300,max=200', /min \(300\) must not exceed max \(200\)/],
  ['lognormal:mean=200000,stdev=10', /\[min=1, max=131072\] holds practically none.*mean=200000 \(max defaults to 131072\)/],
  ['negbin:mean=10', /missing parameter "r" \(negbin takes mean, r, min, max/],
  ['negbin:mean=10,r=0', /r must be a positive number, got "0"/],
  ['negbin:mean=10,r=2,stdev=3', /unknown parameter "stdev"/],
  ['negbin:mean=10,r=2,min=5000', /\[min=5000, max=131072\] holds practically none of the distribution \(probability 10\^-\d+\)/]
]

test('every kind of bad spec gets an error naming where, the whole text and the bad part', () => {
  assert.throws(() => parseLengthSpec('lognormal:mean=abc,stdev=5', '--input-tokens'), (e: unknown) =>
    e instanceof WorkloadSpecError && e.name === 'WorkloadSpecError' && e.code === 'ERR_BAD_SPEC' &&
    e.message === '--input-tokens: "lognormal:mean=abc,stdev=5": mean must be a positive number, got "abc"')
  for (const [text, re] of BAD) {
    assert.throws(() => parseLengthSpec(text, '--output-tokens'), (e: unknown) => {
      assert.ok(e instanceof WorkloadSpecError, `${text}: ${String(e)}`)
      assert.ok(e.message.startsWith(`--output-tokens: "${text}": `), e.message)
      assert.match(e.message, re)
      return true
    }, `no error for "${text}"`)
  }
})

test('specs arriving as objects (JSON, wire) are validated too', () => {
  const rng = createRng(1)
  const bad: Array<[unknown, RegExp]> = [
    [{ kind: 'lognormal', mean: -1, stdev: 1, min: 1, max: 10 }, /mean must be a positive number, got -1/],
    [{ kind: 'negbin', mean: 10, r: 2, min: 1.5, max: 10 }, /min must be a non-negative integer, got 1\.5/],
    [{ kind: 'uniform', min: 3, max: 'x' }, /max must be a non-negative integer, got "x"/],
    [{ kind: 'fixed', value: MAX_LENGTH_TOKENS + 1 }, /at most 16777216/],
    [{ kind: 'pareto', alpha: 1 }, /unknown kind "pareto"/],
    [null, /not a length spec/]
  ]
  for (const [spec, re] of bad) {
    assert.throws(() => createLengthSampler(spec as LengthSpec, rng), (e: unknown) => e instanceof WorkloadSpecError && re.test(e.message),
      JSON.stringify(spec))
  }
})
