import type { FitCost, FitPoint, LinearCost } from './profile.ts'

export type FittedCost = LinearCost & { api_overhead_ms: number }

/** Column order of the unknowns. */
const NAMES = ['t0_ms', 't_seq_ms', 't_token_ms', 't_kv_ms_per_1k', 'api_overhead_ms'] as const

/**
 * The rows a closed loop at concurrency c, with I prompt and O output tokens, contributes to the
 * least-squares system, as coefficient vectors over NAMES. It is the step loop's steady state when
 * the c requests are out of phase: every step holds all c sequences; a request spends k = ceil(I/M)
 * steps in prefill and O - 1 in decode, so a step computes on average N = c(I + O - 1)/S tokens
 * (S = k + O - 1) and reads ctx = c(I(O - 1) + O(O - 1)/2 + I)/S tokens of KV.
 *   ITL  = mean step s = t0 + t_seq c + t_token N + t_kv ctx/1000
 *   TTFT = overhead + s/2 (arrival lands mid-step) + k prefill steps, each a mean step minus this
 *          request's average share (N/c tokens) plus its chunk: (1/2 + k) s - k t_token N/c + t_token I
 */
export function fitRows(p: FitPoint, input: number, output: number, maxBatchTokens: number): { itl: number[]; ttft: number[] } {
  const c = p.concurrency
  const I = p.input_tokens ?? input
  const O = p.output_tokens ?? output
  const k = Math.ceil(I / maxBatchTokens)
  const S = k + O - 1
  const N = c * (I + O - 1) / S
  const ctx = c * (I * (O - 1) + O * (O - 1) / 2 + I) / S
  const step = [1, c, N, ctx / 1000, 0]
  const ttft = step.map((v) => (0.5 + k) * v)
  ttft[2] += I - k * N / c
  ttft[4] = 1
  return { itl: step, ttft }
}

/**
 * Solves the linear step-cost coefficients (all >= 0) that best reproduce a measured TTFT/ITL table,
 * minimising relative errors (TTFT spans orders of magnitude). Non-negative least squares is solved
 * exactly by trying every set of free unknowns (5 unknowns: 31 small systems). Coefficients the table
 * cannot tell apart (e.g. t_seq and t_kv when every point has the same lengths) share the weight as
 * a minimum-norm solution does. `fixedOverheadMs` keeps the overhead instead of solving it.
 */
export function fitLinearCost(spec: FitCost, maxBatchTokens: number, fixedOverheadMs?: number): FittedCost {
  const rows: number[][] = []
  const rhs: number[] = []
  for (const p of spec.points) {
    const { itl, ttft } = fitRows(p, spec.input_tokens, spec.output_tokens, maxBatchTokens)
    rows.push(itl.map((v) => v / p.itl_ms))
    rhs.push(1)
    if (fixedOverheadMs === undefined) {
      rows.push(ttft.map((v) => v / p.ttft_ms))
      rhs.push(1)
    } else {
      const t = ttft.slice()
      t[4] = 0
      rows.push(t.map((v) => v / p.ttft_ms))
      rhs.push(1 - fixedOverheadMs / p.ttft_ms)
    }
  }
  const n = NAMES.length
  const usable = NAMES.map((_, j) => (j === 4 && fixedOverheadMs !== undefined ? false : rows.some((r) => r[j] !== 0)))
  let best: { x: number[]; err: number } | null = null
  for (let mask = 1; mask < 1 << n; mask++) {
    const free: number[] = []
    for (let j = 0; j < n; j++) if ((mask & (1 << j)) !== 0) free.push(j)
    if (free.some((j) => !usable[j])) continue
    const sub = solveLeastSquares(rows.map((r) => free.map((j) => r[j])), rhs)
    if (sub === null || sub.some((v) => v < 0)) continue
    const x = new Array<number>(n).fill(0)
    free.forEach((j, i) => { x[j] = sub[i] })
    let err = 0
    for (let i = 0; i < rows.length; i++) {
      let pred = 0
      for (let j = 0; j < n; j++) pred += rows[i][j] * x[j]
      err += (pred - rhs[i]) ** 2
    }
    // Ties (collinear unknowns) go to the solution with more free unknowns: it spreads the weight.
    if (best === null || err < best.err * (1 - 1e-9)) best = { x, err }
  }
  const x = best?.x ?? [0, 0, 0, 0, 0]
  return {
    mode: 'linear',
    t0_ms: x[0],
    t_seq_ms: x[1],
    t_token_ms: x[2],
    t_kv_ms_per_1k: x[3],
    api_overhead_ms: fixedOverheadMs ?? x[4]
  }
}

/**
 * Least squares by the normal equations with columns scaled to unit norm and a tiny ridge, so a
 * collinear pair gets a minimum-norm split instead of a singular matrix. Null when degenerate.
 */
function solveLeastSquares(a: number[][], b: number[]): number[] | null {
  const m = a[0].length
  const scale = new Array<number>(m).fill(0)
  for (const r of a) for (let j = 0; j < m; j++) scale[j] += r[j] * r[j]
  for (let j = 0; j < m; j++) {
    if (!(scale[j] > 0)) return null
    scale[j] = Math.sqrt(scale[j])
  }
  const ata = Array.from({ length: m }, () => new Array<number>(m + 1).fill(0))
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < m; j++) {
      const aj = a[i][j] / scale[j]
      for (let k = 0; k < m; k++) ata[j][k] += aj * (a[i][k] / scale[k])
      ata[j][m] += aj * b[i]
    }
  }
  for (let j = 0; j < m; j++) ata[j][j] += 1e-10
  // Gaussian elimination with partial pivoting on the augmented matrix.
  for (let col = 0; col < m; col++) {
    let piv = col
    for (let r = col + 1; r < m; r++) if (Math.abs(ata[r][col]) > Math.abs(ata[piv][col])) piv = r
    if (Math.abs(ata[piv][col]) < 1e-14) return null
    const tmp = ata[col]
    ata[col] = ata[piv]
    ata[piv] = tmp
    for (let r = 0; r < m; r++) {
      if (r === col) continue
      const f = ata[r][col] / ata[col][col]
      if (f === 0) continue
      for (let k = col; k <= m; k++) ata[r][k] -= f * ata[col][k]
    }
  }
  return ata.map((row, j) => row[m] / row[j] / scale[j])
}
