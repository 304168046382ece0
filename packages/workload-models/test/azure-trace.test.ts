import { fileURLToPath } from 'node:url'
// Uses the Azure LLM inference trace 2023 (Azure Public Dataset, CC-BY 4.0; Patel et al.,
// "Splitwise: Efficient Generative LLM Inference Using Phase Splitting", ISCA 2024).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRng } from '@loadmesh/workload'
import { readWorkloadLog, fitWorkloadModel, createModelSampler, validateWorkloadModel, AZURE_ATTRIBUTION } from '../src/index.ts'
import type { WorkloadModel, WorkloadLog } from '../src/index.ts'
import { groupValues } from '../src/numeric.ts'
import { twoSampleKs } from '../src/goodness-of-fit.ts'

const TRACE = fileURLToPath(new URL('../../../test/fixtures/azure-llm-2023-conv.csv', import.meta.url))
const N = 100_000

let cached: { log: WorkloadLog; model: WorkloadModel } | null = null
async function fitted (): Promise<{ log: WorkloadLog; model: WorkloadModel }> {
  if (cached === null) {
    const log = await readWorkloadLog(TRACE)
    // Through JSON and validation, as `loadmesh workload fit` / `sample` do.
    const model = validateWorkloadModel(JSON.parse(JSON.stringify(fitWorkloadModel(log))), 'model.json')
    cached = { log, model }
  }
  return cached
}

test('the Azure trace is read natively', async () => {
  const { log } = await fitted()
  assert.equal(log.format, 'azure')
  assert.equal(log.records.length, 19_366) // 19,366 data rows after the header
  assert.equal(log.startedAt, '2023-11-16T18:15:46.680Z')
  assert.deepEqual({ ...log.records[0] }, { atMs: 0, line: 2, inputTokens: 374, outputTokens: 44, classes: {} })
  // 18:15:50.9951690 − 18:15:46.6805900, to the 0.1 µs of the trace.
  assert.ok(Math.abs(log.records[1].atMs - 4314.579) < 1e-6)
})

test('fit, then 100k sampled requests match the trace: KS <= 0.05 for input and output lengths', async () => {
  const { log, model } = await fitted()
  assert.equal(model.source.attribution, AZURE_ATTRIBUTION)
  const sampler = createModelSampler(model, createRng(20231116))
  const input: number[] = []
  const output: number[] = []
  for (let i = 0; i < N; i++) {
    const r = sampler.next()
    input.push(r.inputTokens)
    output.push(r.outputTokens)
  }
  const ksIn = twoSampleKs(groupValues(input), groupValues(log.records.map((r) => r.inputTokens)))
  const ksOut = twoSampleKs(groupValues(output), groupValues(log.records.map((r) => r.outputTokens)))
  assert.ok(ksIn <= 0.05, `input KS ${ksIn}`)
  assert.ok(ksOut <= 0.05, `output KS ${ksOut}`)
  // Every candidate carries its goodness of fit, and the chosen one is among them.
  for (const fit of [model.input, model.output]) {
    assert.ok(fit.candidates.length >= 3)
    for (const c of fit.candidates) {
      assert.ok(c.ks >= 0 && c.ks <= 1)
      assert.equal(c.qq.length, 10)
    }
    assert.deepEqual(fit.candidates[fit.chosenIndex].distribution, fit.chosen)
  }
})

test('100k sampled arrivals reproduce the per-minute rate within 5% (mean absolute relative error)', async () => {
  const { log, model } = await fitted()
  const sampler = createModelSampler(model, createRng(7))
  const period = model.arrivals.periodMs
  const bins = model.arrivals.ratePerMinute.length
  const times: number[] = []
  let t = 0
  for (let i = 0; i < N; i++) {
    t += sampler.next().gapMs
    times.push(t)
  }
  // Compare over whole cycles of the profile: sampled count in minute j of the profile, averaged
  // over the cycles, against the trace's count in minute j (the last minute is partial in both).
  const cycles = Math.floor(t / period)
  assert.ok(cycles >= 5, `only ${cycles} cycles`)
  const sampled = new Array<number>(bins).fill(0)
  let inCycles = 0
  for (const x of times) {
    if (x >= cycles * period) break
    sampled[Math.min(bins - 1, Math.floor((x % period) / 60_000))]++
    inCycles++
  }
  const real = new Array<number>(bins).fill(0)
  for (const r of log.records) real[Math.min(bins - 1, Math.floor(r.atMs / 60_000))]++
  let mare = 0
  for (let j = 0; j < bins; j++) mare += Math.abs(sampled[j] / cycles - real[j]) / real[j] / bins
  assert.ok(mare <= 0.05, `per-minute mean absolute relative error ${mare}`)
  // The overall rate, over the same whole cycles: within 1%.
  const ratio = inCycles / (cycles * log.records.length)
  assert.ok(Math.abs(ratio - 1) <= 0.01, `overall rate ratio ${ratio}`)
})
