import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createArrivalProcess, createRng, parseArrivalKind, WorkloadSpecError } from '../src/index.ts'
import { draw, gammaCdf, ksContinuous, ksCritical, moments } from './stats.ts'

const N = 20_000

function cv(xs: Float64Array): { mean: number; cv: number; seMean: number; seCv: number } {
  const m = moments(xs)
  const sd = Math.sqrt(m.variance)
  // delta method: se(sd) = se(var) / (2 sd)
  return { mean: m.mean, cv: sd / m.mean, seMean: m.seMean, seCv: (m.seVariance / (2 * sd)) / m.mean + (sd * m.seMean) / (m.mean * m.mean) }
}

test('poisson gaps: exponential with mean 1000/rate ms (CV 1)', () => {
  const p = createArrivalProcess({ kind: 'poisson', rate: 250 }, createRng('arr-poisson'))
  const xs = draw(N, () => p.nextGapMs())
  const s = cv(xs)
  assert.ok(Math.abs(s.mean - 4) < 4 * s.seMean, `mean gap ${s.mean}`)
  assert.ok(Math.abs(s.cv - 1) < 4 * s.seCv, `cv ${s.cv}`)
  assert.ok(ksContinuous(xs, (x) => 1 - Math.exp(-x / 4)) < ksCritical(N))
})

for (const b of [1, 0.25, 4]) {
  test(`gamma gaps with burstiness ${b}: mean 1000/rate, CV 1/sqrt(b), gamma-distributed`, () => {
    const rate = 40
    const p = createArrivalProcess({ kind: 'gamma', rate, burstiness: b }, createRng(`arr-gamma-${b}`))
    const xs = draw(N, () => p.nextGapMs())
    const s = cv(xs)
    assert.ok(Math.abs(s.mean - 25) < 4 * s.seMean, `mean gap ${s.mean}`)
    assert.ok(Math.abs(s.cv - 1 / Math.sqrt(b)) < 4 * s.seCv, `cv ${s.cv}, want ${1 / Math.sqrt(b)}`)
    const scale = 1000 / (rate * b)
    assert.ok(ksContinuous(xs, (x) => gammaCdf(b, x / scale)) < ksCritical(N))
  })
}

test('gamma without burstiness is Poisson', () => {
  const a = createArrivalProcess({ kind: 'gamma', rate: 10 }, createRng('g1'))
  const xs = draw(N, () => a.nextGapMs())
  const s = cv(xs)
  assert.ok(Math.abs(s.cv - 1) < 4 * s.seCv)
  assert.ok(Math.abs(s.mean - 100) < 4 * s.seMean)
})

test('constant gaps are exactly 1000/rate', () => {
  const p = createArrivalProcess({ kind: 'constant', rate: 8 }, createRng('c'))
  for (let i = 0; i < 1000; i++) assert.equal(p.nextGapMs(), 125)
  const q = createArrivalProcess({ kind: 'constant', rate: 3 }, createRng('c'))
  assert.equal(q.nextGapMs(), 1000 / 3)
})

test('the same seed gives the same arrival schedule', () => {
  const a = createArrivalProcess({ kind: 'gamma', rate: 100, burstiness: 0.5 }, createRng('same').split('arrivals'))
  const b = createArrivalProcess({ kind: 'gamma', rate: 100, burstiness: 0.5 }, createRng('same').split('arrivals'))
  assert.deepEqual(draw(100, () => a.nextGapMs()), draw(100, () => b.nextGapMs()))
})

test('bad rates, burstiness and kinds are refused with clear errors', () => {
  const rng = createRng(1)
  const bad = (spec: Parameters<typeof createArrivalProcess>[0], re: RegExp): void => {
    assert.throws(() => createArrivalProcess(spec, rng), (e: unknown) =>
      e instanceof WorkloadSpecError && e.name === 'WorkloadSpecError' && e.code === 'ERR_BAD_SPEC' && re.test(e.message))
  }
  bad({ kind: 'poisson', rate: 0 }, /rate.*positive.*got 0/)
  bad({ kind: 'poisson', rate: -5 }, /rate.*got -5/)
  bad({ kind: 'constant', rate: Number.POSITIVE_INFINITY }, /rate.*Infinity/)
  bad({ kind: 'poisson', rate: Number.NaN }, /rate.*NaN/)
  bad({ kind: 'gamma', rate: 1, burstiness: 0 }, /burstiness.*got 0/)
  bad({ kind: 'gamma', rate: 1, burstiness: -1 }, /burstiness.*got -1/)
  bad({ kind: 'zipf' as 'poisson', rate: 1 }, /unknown kind "zipf".*poisson, gamma, constant/)
})

test('parseArrivalKind accepts the kinds and names the valid ones otherwise', () => {
  assert.equal(parseArrivalKind('poisson'), 'poisson')
  assert.equal(parseArrivalKind(' Gamma '), 'gamma')
  assert.equal(parseArrivalKind('constant'), 'constant')
  assert.throws(() => parseArrivalKind('bursty'), (e: unknown) =>
    e instanceof WorkloadSpecError && /--arrival: unknown arrival kind "bursty" \(valid: poisson, gamma, constant\)/.test(e.message))
  assert.throws(() => parseArrivalKind('x', 'arrival in run.yaml'), /arrival in run\.yaml: unknown arrival kind "x"/)
})
