import { fitLinearCost } from './fit-step-cost.ts'
import { kvBytesPerToken, weightBytes } from './profile.ts'
import type { LinearCost, StepProfile } from './profile.ts'

/**
 * Prices one engine step, in ms, from the batch: `seqs` sequences scheduled, `tokens` computed in
 * it (one per decode plus the prefill chunks), `ctx` tokens of KV the batch reads (every scheduled
 * sequence's context, the new tokens included) and `attn` the sum over computed tokens of the
 * positions they attend to (attention FLOPs). All arguments are running totals the scheduler already
 * has, so pricing is O(1) whatever the batch size.
 */
export type StepPricer = (seqs: number, tokens: number, ctx: number, attn: number) => number

export interface StepCostModel {
  price: StepPricer
  /** The API overhead to use: the scheduler's, or the one fit mode solved for. */
  apiOverheadMs: number
  /** Fit mode: the coefficients it solved, for reports and docs. */
  fitted?: LinearCost & { api_overhead_ms: number }
}

/** The smallest step: keeps time moving even for a degenerate table. */
const MIN_STEP_MS = 1e-3

export function createStepCost(p: StepProfile): StepCostModel {
  const c = p.step_cost
  const apiOverheadMs = p.scheduler.api_overhead_ms
  switch (c.mode) {
    case 'roofline': {
      const bytesPerMs = p.hardware.gpus * (p.hardware.bandwidth_tbps_per_gpu as number) * 1e12 * c.eta / 1000
      const flopsPerMs = p.hardware.gpus * (p.hardware.peak_tflops_per_gpu as number) * 1e12 * c.mfu / 1000
      const weights = weightBytes(p.model)
      const kvPerToken = kvBytesPerToken(p.model)
      const flopsPerToken = 2 * p.model.params_b * 1e9
      // QK^T and AV: 2 FLOPs per multiply-add, two matmuls, hidden_size wide, every layer.
      const flopsPerAttn = 4 * p.model.layers * p.model.hidden_size
      const { t0_ms: t0, t_seq_ms: tSeq } = c
      return {
        apiOverheadMs,
        price: (seqs, tokens, ctx, attn) => {
          const mem = (weights + kvPerToken * ctx) / bytesPerMs
          const compute = (flopsPerToken * tokens + flopsPerAttn * attn) / flopsPerMs
          return t0 + tSeq * seqs + (mem > compute ? mem : compute)
        }
      }
    }
    case 'linear':
      return { apiOverheadMs, price: linearPricer(c) }
    case 'fit': {
      const fitted = fitLinearCost(c, p.scheduler.max_num_batched_tokens, c.fit_api_overhead ? undefined : apiOverheadMs)
      return { apiOverheadMs: fitted.api_overhead_ms, price: linearPricer(fitted), fitted }
    }
    case 'table': {
      const xs = Float64Array.from(c.points, (q) => q[0])
      const ys = Float64Array.from(c.points, (q) => q[1])
      return { apiOverheadMs, price: (_seqs, tokens) => interpolate(xs, ys, tokens) }
    }
  }
}

function linearPricer(c: LinearCost): StepPricer {
  const { t0_ms: t0, t_seq_ms: tSeq, t_token_ms: tTok } = c
  const tKv = c.t_kv_ms_per_1k / 1000
  return (seqs, tokens, ctx) => {
    const t = t0 + tSeq * seqs + tTok * tokens + tKv * ctx
    return t > MIN_STEP_MS ? t : MIN_STEP_MS
  }
}

/**
 * Piecewise linear through the points; below the first point its value, beyond the last the last
 * segment's slope continues (a batch bigger than any measured one costs proportionally more).
 */
export function interpolate(xs: Float64Array, ys: Float64Array, x: number): number {
  const n = xs.length
  if (n === 1 || x <= xs[0]) return Math.max(ys[0], MIN_STEP_MS)
  // Tables are short (tens of points): a linear scan beats a binary search's branches.
  let i = 1
  while (i < n - 1 && x > xs[i]) i++
  const y = ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1])
  return y > MIN_STEP_MS ? y : MIN_STEP_MS
}
