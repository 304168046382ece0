import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseProfile, profileCapacity, runVirtual } from '../src/index.ts'
import type { FitPoint, LinearCost, StepProfile } from '../src/index.ts'
import { fitLinearCost, fitRows } from '../src/fit-step-cost.ts'

const profile = (stepCost: unknown, overheadMs: number | undefined): StepProfile => parseProfile({
  name: 'fit',
  engine: 'step',
  model: { name: 'm', params_b: 8, layers: 32, hidden_size: 4096, kv_heads: 8, head_dim: 128, weight_bytes_per_param: 1, kv_bytes_per_elem: 2, max_model_len: 32768 },
  hardware: { gpus: 1, memory_gib_per_gpu: 80 },
  scheduler: { max_num_batched_tokens: 8192, ...(overheadMs === undefined ? {} : { api_overhead_ms: overheadMs }) },
  step_cost: stepCost,
  noise: { step_sigma: 0.03, ttft_sigma: 0.3 }
}, 'fit test') as StepProfile

const TRUTH: LinearCost = { mode: 'linear', t0_ms: 3, t_seq_ms: 0.03, t_token_ms: 0.015, t_kv_ms_per_1k: 0.05 }
const OVERHEAD = 4
const WORKLOADS: Array<{ I: number; O: number; input: string; output: string }> = [
  { I: 200, O: 200, input: 'uniform:min=100,max=300', output: 'uniform:min=50,max=350' },
  { I: 1000, O: 100, input: 'uniform:min=600,max=1400', output: 'uniform:min=40,max=160' }
]
const rel = (a: number, b: number): number => Math.abs(a / b - 1)

test('the solver recovers coefficients exactly from a table its own model produced', () => {
  const x = [TRUTH.t0_ms, TRUTH.t_seq_ms, TRUTH.t_token_ms, TRUTH.t_kv_ms_per_1k, OVERHEAD]
  const points: FitPoint[] = []
  for (const { I, O } of WORKLOADS) {
    for (const c of [1, 8, 32, 64]) {
      const rows = fitRows({ concurrency: c, ttft_ms: 1, itl_ms: 1, input_tokens: I, output_tokens: O }, 0, 0, 8192)
      const dot = (r: number[]): number => r.reduce((a, v, j) => a + v * x[j], 0)
      points.push({ concurrency: c, input_tokens: I, output_tokens: O, ttft_ms: dot(rows.ttft), itl_ms: dot(rows.itl) })
    }
  }
  const fit = fitLinearCost({ mode: 'fit', input_tokens: 200, output_tokens: 200, points, fit_api_overhead: true }, 8192)
  const got = [fit.t0_ms, fit.t_seq_ms, fit.t_token_ms, fit.t_kv_ms_per_1k, fit.api_overhead_ms]
  got.forEach((v, j) => { assert.ok(Math.abs(v - x[j]) < 1e-6 * Math.max(1, x[j]), `coefficient ${j}: ${v} vs ${x[j]}`) })
  // A fixed overhead is kept, not solved.
  const kept = fitLinearCost({ mode: 'fit', input_tokens: 200, output_tokens: 200, points, fit_api_overhead: false }, 8192, OVERHEAD)
  assert.equal(kept.api_overhead_ms, OVERHEAD)
  assert.ok(rel(kept.t_token_ms, TRUTH.t_token_ms) < 1e-6)
})

test('fit mode: a table measured from an engine with known coefficients gives them back, and the fitted profile reproduces the table', async () => {
  const truth = profile(TRUTH, OVERHEAD)
  const points: FitPoint[] = []
  for (const w of WORKLOADS) {
    for (const c of [1, 8, 32, 64]) {
      const r = await runVirtual({ profile: truth, concurrency: c, inputTokens: w.input, outputTokens: w.output, durationMs: 60_000, seed: 1 })
      points.push({ concurrency: c, input_tokens: w.I, output_tokens: w.O, ttft_ms: r.report.latency_ms.ttft.mean as number, itl_ms: r.report.latency_ms.itl.mean as number })
    }
  }
  const fitted = profile({ mode: 'fit', input_tokens: 200, output_tokens: 200, points }, undefined)
  const f = profileCapacity(fitted).fitted
  assert.ok(f !== null)
  const msg = JSON.stringify(f)
  assert.ok(rel(f.t0_ms, TRUTH.t0_ms) < 0.2, `t0: ${msg}`)
  assert.ok(rel(f.t_token_ms, TRUTH.t_token_ms) < 0.2, `t_token: ${msg}`)
  assert.ok(rel(f.api_overhead_ms, OVERHEAD) < 0.2, `overhead: ${msg}`)
  // Per decoding sequence a step costs t_seq + t_kv x its context: the table pins that down per workload.
  for (const { I, O } of WORKLOADS) {
    const ctx = (I + O / 2) / 1000
    assert.ok(rel(f.t_seq_ms + f.t_kv_ms_per_1k * ctx, TRUTH.t_seq_ms + TRUTH.t_kv_ms_per_1k * ctx) < 0.2, `per-sequence cost at ${I}/${O}: ${msg}`)
  }
  for (const w of WORKLOADS) {
    for (const p of points.filter((q) => q.input_tokens === w.I)) {
      const r = await runVirtual({ profile: fitted, concurrency: p.concurrency, inputTokens: w.input, outputTokens: w.output, durationMs: 60_000, seed: 2 })
      const L = r.report.latency_ms
      assert.ok(rel(L.ttft.mean as number, p.ttft_ms) < 0.2, `TTFT at c=${p.concurrency}, ${w.I}/${w.O}: ${L.ttft.mean} vs ${p.ttft_ms}`)
      assert.ok(rel(L.itl.mean as number, p.itl_ms) < 0.2, `ITL at c=${p.concurrency}, ${w.I}/${w.O}: ${L.itl.mean} vs ${p.itl_ms}`)
    }
  }
})
