import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRng } from '@loadmesh/workload'
import { createModelSampler, fitWorkloadModel, validateWorkloadModel } from '../src/index.ts'
import type { LengthDistribution, WorkloadLog, WorkloadModel, WorkloadRecord } from '../src/index.ts'
import { fitLengths } from '../src/fit-lengths.ts'
import { createLengthModel } from '../src/length-model.ts'

const within = (actual: number, expected: number, rel: number, what: string): void => {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual} is not within ${rel * 100}% of ${expected}`)
}

/** A hand-written model: log-normal prompts, negative-binomial outputs, Gamma arrivals at a flat 600/min. */
function knownModel (): WorkloadModel {
  return validateWorkloadModel({
    schema: 'loadmesh.workload-model/v1',
    input: { chosen: { kind: 'lognormal', mu: 6.2, sigma: 0.9, min: 1, max: 131072 } },
    output: { chosen: { kind: 'negbin', mean: 180, r: 2.5, min: 1, max: 131072 } },
    arrivals: { ratePerMinute: new Array(30).fill(600), periodMs: 1_800_000, process: { chosen: { kind: 'gamma', shape: 0.5 } } },
    classes: [{ key: 'all', weight: 1, endpoint: '/v1/chat/completions' }]
  }, 'known-model.json')
}

/** Samples a log (as a user's log would be) from a model. */
function sampleLog (model: WorkloadModel, n: number, seed: number): WorkloadLog {
  const sampler = createModelSampler(model, createRng(seed))
  const records: WorkloadRecord[] = []
  let t = 0
  for (let i = 0; i < n; i++) {
    const r = sampler.next()
    t += r.gapMs
    records.push({ atMs: t, line: i + 2, inputTokens: r.inputTokens, outputTokens: r.outputTokens, classes: {} })
  }
  const t0 = records[0].atMs
  for (const r of records) r.atMs -= t0
  return { source: `sampled(${seed})`, format: 'generic-csv', records, startedAt: null }
}

function candidate<K extends LengthDistribution['kind']> (fit: { candidates: Array<{ distribution: LengthDistribution }> }, kind: K): Extract<LengthDistribution, { kind: K }> {
  const c = fit.candidates.find((x) => x.distribution.kind === kind)
  assert.ok(c !== undefined, `no ${kind} candidate`)
  return c.distribution as Extract<LengthDistribution, { kind: K }>
}

test('round trip through the whole pipeline: sample a known model, fit, recover its parameters', () => {
  const model = knownModel()
  const log = sampleLog(model, 20_000, 11)
  const fitted = fitWorkloadModel(log)
  // Data from a log-normal: the log-normal is chosen, not the empirical distribution.
  assert.equal(fitted.input.chosen.kind, 'lognormal')
  const ln = candidate(fitted.input, 'lognormal')
  within(ln.mu, 6.2, 0.02, 'mu')
  within(ln.sigma, 0.9, 0.02, 'sigma')
  assert.ok(['negbin', 'lognormal'].includes(fitted.output.chosen.kind), `output chose ${fitted.output.chosen.kind}`)
  const nb = candidate(fitted.output, 'negbin')
  within(nb.mean, 180, 0.02, 'negbin mean')
  within(nb.r, 2.5, 0.1, 'negbin r')
  // Gamma arrivals with shape 0.5 (gap CV √2): burstiness and rate recovered.
  within(fitted.arrivals.rescaledGapCv, Math.SQRT2, 0.05, 'gap CV')
  within(fitted.arrivals.meanRatePerSec, 10, 0.02, 'rate')
  const gamma = fitted.arrivals.process.candidates.find((c) => c.distribution.kind === 'gamma')
  assert.ok(gamma !== undefined && gamma.distribution.kind === 'gamma')
  within(gamma.distribution.shape, 0.5, 0.1, 'gamma shape')
  assert.notEqual(fitted.arrivals.process.chosen.kind, 'poisson')
})

for (const seed of [1, 2, 3]) {
  test(`truncated MLE recovers log-normal mu, sigma within 2% and negbin mean within 2%, r within 10% (seed ${seed})`, () => {
    const rng = createRng(seed)
    // Truncation that cuts real mass off both ends: a naive (untruncated) fit would be biased.
    const lnTrue: LengthDistribution = { kind: 'lognormal', mu: 5, sigma: 1.2, min: 20, max: 2000 }
    const lnData = Array.from({ length: 20_000 }, createLengthModel(lnTrue).sampler(rng.split('ln')))
    const lnFit = candidate(fitLengths(lnData, { families: ['lognormal'], maxComponents: 1, min: 20, max: 2000 }), 'lognormal')
    within(lnFit.mu, 5, 0.02, 'mu')
    within(lnFit.sigma, 1.2, 0.02, 'sigma')
    const nbTrue: LengthDistribution = { kind: 'negbin', mean: 300, r: 1.5, min: 10, max: 1500 }
    const nbData = Array.from({ length: 20_000 }, createLengthModel(nbTrue).sampler(rng.split('nb')))
    const nbFit = candidate(fitLengths(nbData, { families: ['negbin'], maxComponents: 1, min: 10, max: 1500 }), 'negbin')
    within(nbFit.mean, 300, 0.02, 'negbin mean')
    within(nbFit.r, 1.5, 0.1, 'negbin r')
  })
}

test('a two-component log-normal mixture is recovered, and chosen over the single log-normal', () => {
  const truth: LengthDistribution = {
    kind: 'lognormal-mixture',
    components: [{ weight: 0.3, mu: 4, sigma: 0.4 }, { weight: 0.7, mu: 7, sigma: 0.6 }],
    min: 1,
    max: 100_000
  }
  const data = Array.from({ length: 20_000 }, createLengthModel(truth).sampler(createRng(5)))
  const fit = fitLengths(data, { families: ['lognormal', 'empirical'], maxComponents: 3, min: 1, max: 100_000 })
  assert.equal(fit.chosen.kind, 'lognormal-mixture')
  const mix = candidate(fit, 'lognormal-mixture') // the 2-component one comes first
  assert.equal(mix.components.length, 2)
  within(mix.components[0].weight, 0.3, 0.05, 'weight')
  within(mix.components[0].mu, 4, 0.02, 'mu0')
  within(mix.components[1].mu, 7, 0.02, 'mu1')
  within(mix.components[1].sigma, 0.6, 0.05, 'sigma1')
})

test('spiky data that no smooth family describes gets the empirical distribution', () => {
  const rng = createRng(9)
  // Ten templated prompt sizes (as system prompts make them) plus a smooth background: more
  // modes than the largest mixture tried (4 components).
  const background = createLengthModel({ kind: 'lognormal', mu: 6, sigma: 1, min: 1, max: 50_000 }).sampler(rng)
  const spikes = [95, 181, 260, 400, 610, 880, 1314, 2050, 3100, 4800]
  const data = Array.from({ length: 10_000 }, (_, i) => (i % 3 === 0 ? background() : spikes[i % 10]))
  const fit = fitLengths(data, { families: ['lognormal', 'empirical'] })
  assert.equal(fit.chosen.kind, 'empirical')
  assert.match(fit.reason, /empirical/)
})
