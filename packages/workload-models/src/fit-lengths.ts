import { logGamma } from '@loadmesh/workload'
import type { CandidateFit, LengthDistribution, LengthFit } from './types.ts'
import type { Grouped } from './numeric.ts'
import { brentMinimize, groupValues, nelderMead, negbinLogPmf, negbinLogWindowMass, normalMass, truncatedNormalMoments } from './numeric.ts'
import type { LengthModel } from './length-model.ts'
import { createLengthModel } from './length-model.ts'
import { ksDistance, empiricalCdf, qqPoints } from './goodness-of-fit.ts'

/**
 * Fitting of token-count (and other integer) distributions by maximum likelihood, with goodness
 * of fit and a parsimonious choice among the candidates. All likelihoods are those of the models
 * as sampled: discretised, and truncated to the window [min, max].
 */

export type LengthFamily = 'lognormal' | 'negbin' | 'empirical'

export interface FitLengthsOptions {
  families?: readonly LengthFamily[]
  /** Mixtures of 2..maxComponents are tried for each parametric family (default 6, negative binomials at most 4; 1 = none). */
  maxComponents?: number
  /** Truncation window; defaults to the observed range. */
  min?: number
  max?: number
}

interface WindowedFit { distribution: LengthDistribution; logLikelihood: number | null; params: number }

/**
 * Fits are kept where the samplers can use them: a window must hold at least this much of the
 * untruncated distribution (@loadmesh/workload refuses below 1e-12), and σ stays within 10. Flat
 * data in a window otherwise pulls the MLE towards degenerate limits (a far-away mean, a huge σ)
 * that describe it no better.
 */
const MIN_WINDOW_MASS = 1e-9
const LOG_MIN_WINDOW_MASS = Math.log(MIN_WINDOW_MASS)
const MAX_SIGMA = 10

const LOG_FACT_CACHE = new Map<number, number>()
function logFactorial (k: number): number {
  let v = LOG_FACT_CACHE.get(k)
  if (v === undefined) {
    v = logGamma(k + 1)
    if (LOG_FACT_CACHE.size < 1_000_000) LOG_FACT_CACHE.set(k, v)
  }
  return v
}

// ---- log-normal ---------------------------------------------------------------------------

/** ln of the window bounds in log space: ln(min − ½), ln(max + ½) (−∞ for a window starting at 0). */
function logWindow (min: number, max: number): [number, number] {
  return [min - 0.5 > 0 ? Math.log(min - 0.5) : Number.NEGATIVE_INFINITY, Math.log(max + 0.5)]
}

function logEdges (k: number): [number, number] {
  return [k - 0.5 > 0 ? Math.log(k - 0.5) : Number.NEGATIVE_INFINITY, Math.log(k + 0.5)]
}

/** Log-likelihood of grouped data under one discretised, truncated log-normal. */
export function lognormalLogLikelihood (g: Grouped, weights: readonly number[] | null, mu: number, sigma: number, min: number, max: number): number {
  if (!(sigma > 0 && sigma <= MAX_SIGMA)) return Number.NEGATIVE_INFINITY
  const [A, B] = logWindow(min, max)
  const mass = normalMass((A - mu) / sigma, (B - mu) / sigma)
  if (!(mass >= MIN_WINDOW_MASS)) return Number.NEGATIVE_INFINITY
  const logMass = Math.log(mass)
  let ll = 0
  for (let i = 0; i < g.values.length; i++) {
    const c = weights === null ? g.counts[i] : g.counts[i] * weights[i]
    if (c === 0) continue
    const [a, b] = logEdges(g.values[i])
    const p = normalMass((a - mu) / sigma, (b - mu) / sigma)
    if (!(p > 0)) return Number.NEGATIVE_INFINITY
    ll += c * (Math.log(p) - logMass)
  }
  return ll
}

function logMoments (g: Grouped): { mean: number; sd: number } {
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < g.values.length; i++) {
    const y = Math.log(Math.max(g.values[i], 0.5))
    s1 += g.counts[i] * y
    s2 += g.counts[i] * y * y
  }
  const mean = s1 / g.n
  return { mean, sd: Math.sqrt(Math.max(s2 / g.n - mean * mean, 1e-4)) }
}

/** Maximum-likelihood (μ, σ) of a discretised log-normal truncated to [min, max] (Nelder-Mead on μ, ln σ). */
export function fitTruncatedLognormal (g: Grouped, min: number, max: number): { mu: number; sigma: number; logLikelihood: number } {
  const start = logMoments(g)
  const res = nelderMead(
    ([mu, lnSigma]) => -lognormalLogLikelihood(g, null, mu, Math.exp(lnSigma), min, max),
    [start.mean, Math.log(start.sd)],
    { step: [0.2 * start.sd, 0.2], tolerance: 1e-12, maxEvaluations: 1500 }
  )
  return { mu: res.x[0], sigma: Math.exp(res.x[1]), logLikelihood: -res.fx }
}

/**
 * EM for a mixture of discretised log-normals, each truncated to [min, max]. The E-step uses exact
 * interval probabilities (a length k is the event ln X ∈ [ln(k−½), ln(k+½))); the M-step uses the
 * conditional moments of ln X on that interval (interval-censored EM), plus the expected
 * contribution of the unobserved draws that fell outside the window (the classic EM for truncated
 * data), so each step increases the likelihood of exactly the model that is sampled.
 */
/** Resolution of the intervals EM works on: values whose logarithms share a 1/64 cell (1.6 % wide) are pooled. */
const EM_CELLS_PER_LOG_UNIT = 64

/**
 * Pools the distinct values into intervals at most ~1.6 % wide, which the interval-censored EM
 * treats exactly as it treats single values (an interval [lo, hi] is ln X ∈ [ln(lo−½), ln(hi+½))).
 * Prompt lengths have thousands of distinct values; this caps the work per EM iteration at a few
 * hundred intervals while changing the fit far less than its sampling error.
 */
function logCells (g: Grouped): { edges: Array<[number, number]>; counts: number[] } {
  const edges: Array<[number, number]> = []
  const counts: number[] = []
  let cell = Number.NaN
  for (let i = 0; i < g.values.length; i++) {
    const k = g.values[i]
    const c = k <= 0 ? -1e9 : Math.floor(Math.log(k) * EM_CELLS_PER_LOG_UNIT)
    if (c === cell && k >= 16) {
      edges[edges.length - 1][1] = logEdges(k)[1]
      counts[counts.length - 1] += g.counts[i]
    } else {
      edges.push(logEdges(k))
      counts.push(g.counts[i])
      cell = c
    }
  }
  return { edges, counts }
}

/** Exact log-likelihood of a mixture of truncated discretised log-normals. */
export function lognormalMixtureLogLikelihood (g: Grouped, comps: readonly LognormalComponent[], min: number, max: number): number {
  const [A, B] = logWindow(min, max)
  const masses = comps.map((c) => normalMass((A - c.mu) / c.sigma, (B - c.mu) / c.sigma))
  let ll = 0
  for (let i = 0; i < g.values.length; i++) {
    const [a, b] = logEdges(g.values[i])
    let f = 0
    for (let j = 0; j < comps.length; j++) {
      const c = comps[j]
      if (masses[j] > 0) f += c.weight * normalMass((a - c.mu) / c.sigma, (b - c.mu) / c.sigma) / masses[j]
    }
    ll += g.counts[i] * Math.log(f)
  }
  return ll
}

export function emLognormalMixture (g: Grouped, initial: LognormalComponent[], min: number, max: number, iterations = 500): { components: LognormalComponent[]; logLikelihood: number } {
  let comps = initial.map((c) => ({ ...c }))
  const m = comps.length
  const [A, B] = logWindow(min, max)
  const { edges, counts } = logCells(g)
  const K = edges.length
  const resp = new Float64Array(K * m)
  let prevLl = Number.NEGATIVE_INFINITY
  let ll = Number.NEGATIVE_INFINITY
  for (let it = 0; it < iterations; it++) {
    const masses = comps.map((c) => normalMass((A - c.mu) / c.sigma, (B - c.mu) / c.sigma))
    ll = 0
    for (let i = 0; i < K; i++) {
      let f = 0
      for (let j = 0; j < m; j++) {
        const c = comps[j]
        const p = masses[j] > 0 ? c.weight * normalMass((edges[i][0] - c.mu) / c.sigma, (edges[i][1] - c.mu) / c.sigma) / masses[j] : 0
        resp[i * m + j] = p
        f += p
      }
      if (!(f > 0)) {
        // No component reaches this value (numerically): give it to the nearest one.
        const y = Number.isFinite(edges[i][0]) ? (edges[i][0] + edges[i][1]) / 2 : edges[i][1]
        let best = 0
        for (let j = 1; j < m; j++) if (Math.abs(y - comps[j].mu) / comps[j].sigma < Math.abs(y - comps[best].mu) / comps[best].sigma) best = j
        for (let j = 0; j < m; j++) resp[i * m + j] = j === best ? 1 : 0
        ll += counts[i] * -745
        continue
      }
      for (let j = 0; j < m; j++) resp[i * m + j] /= f
      ll += counts[i] * Math.log(f)
    }
    if (it > 0 && ll - prevLl < EM_TOLERANCE * Math.abs(ll)) break
    prevLl = ll
    const nj = new Array<number>(m).fill(0)
    comps = comps.map((c, j) => {
      let n = 0
      let s1 = 0
      let s2 = 0
      for (let i = 0; i < K; i++) {
        const w = counts[i] * resp[i * m + j]
        if (w === 0) continue
        const t = truncatedNormalMoments((edges[i][0] - c.mu) / c.sigma, (edges[i][1] - c.mu) / c.sigma)
        n += w
        s1 += w * (c.mu + c.sigma * t.m1)
        s2 += w * (c.mu * c.mu + 2 * c.mu * c.sigma * t.m1 + c.sigma * c.sigma * t.m2)
      }
      nj[j] = n
      if (n < 1e-9) return c
      // Unobserved draws outside the window: N_j (1 − M_j)/M_j of them, with their conditional moments.
      const alpha = (A - c.mu) / c.sigma
      const beta = (B - c.mu) / c.sigma
      const inside = normalMass(alpha, beta)
      if (inside > 0 && inside < 1) {
        const missing = n * (1 - inside) / inside
        const lo = truncatedNormalMoments(Number.NEGATIVE_INFINITY, alpha)
        const hi = truncatedNormalMoments(beta, Number.POSITIVE_INFINITY)
        const out = lo.mass + hi.mass
        if (out > 0) {
          const m1 = (lo.mass * lo.m1 + hi.mass * hi.m1) / out
          const m2 = (lo.mass * lo.m2 + hi.mass * hi.m2) / out
          s1 += missing * (c.mu + c.sigma * m1)
          s2 += missing * (c.mu * c.mu + 2 * c.mu * c.sigma * m1 + c.sigma * c.sigma * m2)
          n += missing
        }
      }
      const mu = s1 / n
      const sigma = Math.sqrt(Math.max(s2 / n - mu * mu, 1e-6))
      return { weight: c.weight, mu, sigma: Math.min(Math.max(sigma, 0.01), MAX_SIGMA) }
    })
    const total = nj.reduce((a, b) => a + b, 0)
    comps = comps.map((c, j) => ({ ...c, weight: nj[j] / total }))
  }
  comps = comps.filter((c) => c.weight > 0).sort((a, b) => a.mu - b.mu)
  return { components: comps, logLikelihood: lognormalMixtureLogLikelihood(g, comps, min, max) }
}

/** Splits grouped data into m parts of (about) equal counts, in value order. */
function quantileInit (g: Grouped, m: number): Grouped[] {
  const parts: Grouped[] = []
  let i = 0
  let carried = 0
  for (let j = 0; j < m; j++) {
    const target = Math.round(((j + 1) * g.n) / m)
    const part: Grouped = { values: [], counts: [], n: 0 }
    while (i < g.values.length && (carried + part.n < target || part.n === 0)) {
      part.values.push(g.values[i])
      part.counts.push(g.counts[i])
      part.n += g.counts[i]
      i++
    }
    carried += part.n
    if (part.n === 0) { // fewer distinct values than components: reuse the last value
      part.values.push(g.values[g.values.length - 1])
      part.counts.push(1)
      part.n = 1
    }
    parts.push(part)
  }
  return parts
}

// ---- negative binomial --------------------------------------------------------------------

export function negbinLogLikelihood (g: Grouped, weights: readonly number[] | null, mean: number, r: number, min: number, max: number): number {
  if (!(mean > 0) || !(r > 0) || !Number.isFinite(mean) || !Number.isFinite(r)) return Number.NEGATIVE_INFINITY
  const logMass = negbinLogWindowMass(mean, r, min, max)
  if (!(logMass >= LOG_MIN_WINDOW_MASS)) return Number.NEGATIVE_INFINITY
  let ll = 0
  let total = 0
  for (let i = 0; i < g.values.length; i++) {
    const c = weights === null ? g.counts[i] : g.counts[i] * weights[i]
    if (c === 0) continue
    ll += c * negbinLogPmf(g.values[i], mean, r, logFactorial(g.values[i]))
    total += c
  }
  return ll - total * logMass
}

function weightedMoments (g: Grouped, weights: readonly number[] | null): { mean: number; variance: number; total: number } {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < g.values.length; i++) {
    const c = weights === null ? g.counts[i] : g.counts[i] * weights[i]
    s0 += c
    s1 += c * g.values[i]
    s2 += c * g.values[i] * g.values[i]
  }
  const mean = s1 / s0
  return { mean, variance: Math.max(s2 / s0 - mean * mean, 0), total: s0 }
}

function momentR (mean: number, variance: number): number {
  return variance > mean * 1.01 ? Math.min(Math.max((mean * mean) / (variance - mean), 0.05), 1e4) : 1e3
}

/**
 * Maximum-likelihood (mean, r) of a negative binomial truncated to [min, max], by profiling: for a
 * given r the data enter only through Σc·lnΓ(k+r) (one pass over the distinct values), and the
 * best mean for that r is a one-dimensional search on closed-form terms plus the window mass.
 * Brent's method on ln r outside, on ln mean inside.
 */
export function fitTruncatedNegbin (
  g: Grouped, min: number, max: number,
  opts: { weights?: readonly number[] | null; start?: { mean: number; r: number }; span?: number; tolerance?: number } = {}
): { mean: number; r: number; logLikelihood: number } {
  const weights = opts.weights ?? null
  const tol = opts.tolerance ?? 1e-7
  const K = g.values.length
  const cw = new Float64Array(K)
  let W = 0
  let S1 = 0
  let lfact = 0
  for (let i = 0; i < K; i++) {
    const c = weights === null ? g.counts[i] : g.counts[i] * weights[i]
    cw[i] = c
    W += c
    S1 += c * g.values[i]
    lfact += c * logFactorial(g.values[i])
  }
  if (!(W > 0)) throw new RangeError('fitTruncatedNegbin: no weight')
  const sampleMean = Math.max(S1 / W, 1e-3)
  let start = opts.start
  if (start === undefined) {
    const mo = weightedMoments(g, weights)
    start = { mean: sampleMean, r: momentR(mo.mean, mo.variance) }
  }
  const truncated = min > 0 || Number.isFinite(max)
  const bestMean = (r: number, gr: number): { lm: number; ll: number } => {
    const base = gr - W * logGamma(r) - lfact
    const ll = (lm: number): number => {
      const mean = Math.exp(lm)
      const lp = Math.log(r / (r + mean))
      const lq = Math.log(mean / (r + mean))
      if (!truncated) return base + W * r * lp + S1 * lq
      const logMass = negbinLogWindowMass(mean, r, min, max)
      return logMass >= LOG_MIN_WINDOW_MASS ? base + W * r * lp + S1 * lq - W * logMass : Number.NEGATIVE_INFINITY
    }
    if (!truncated) return { lm: Math.log(sampleMean), ll: ll(Math.log(sampleMean)) }
    // A window's edge can pull the mean far outside it (a pile-up at max looks like a distribution
    // centred beyond max); past a few times the window the likelihood no longer changes, so stop there.
    const centre = Math.log(start.mean)
    const top = Math.min(centre + 3, Number.isFinite(max) ? Math.log(4 * max + 10) : centre + 3)
    const res = brentMinimize((lm) => -ll(lm), Math.min(centre - 6, top - 1), top, tol * 0.01)
    return { lm: res.x, ll: -res.fx }
  }
  const profile = (lr: number): { lm: number; ll: number } => {
    const r = Math.exp(lr)
    let gr = 0
    for (let i = 0; i < K; i++) if (cw[i] !== 0) gr += cw[i] * logGamma(g.values[i] + r)
    return bestMean(r, gr)
  }
  let span = opts.span ?? 5
  let lo = Math.log(start.r) - span
  let hi = Math.log(start.r) + span
  let res = brentMinimize((lr) => -profile(lr).ll, Math.max(lo, -7), Math.min(hi, 14), tol)
  // Widen once if the optimum sits on the bracket's edge.
  if (res.x - Math.max(lo, -7) < 1e-3 || Math.min(hi, 14) - res.x < 1e-3) {
    span = 10
    lo = Math.log(start.r) - span
    hi = Math.log(start.r) + span
    res = brentMinimize((lr) => -profile(lr).ll, Math.max(lo, -7), Math.min(hi, 14), tol)
  }
  const best = profile(res.x)
  return { mean: Math.exp(best.lm), r: Math.exp(res.x), logLikelihood: best.ll }
}

/**
 * EM for a mixture of negative binomials, each truncated to [min, max]: exact E-step; the M-step
 * is a weighted truncated MLE per component (a few Nelder-Mead steps from the current values, so
 * a generalised EM: every iteration increases the likelihood).
 */
export function emNegbinMixture (g: Grouped, initial: NegbinComponent[], min: number, max: number, iterations = 300): { components: NegbinComponent[]; logLikelihood: number } {
  let comps = initial.map((c) => ({ ...c }))
  const m = comps.length
  const K = g.values.length
  const resp = new Float64Array(K * m)
  let prevLl = Number.NEGATIVE_INFINITY
  let ll = Number.NEGATIVE_INFINITY
  const logFacts = g.values.map(logFactorial)
  for (let it = 0; it < iterations; it++) {
    const logMasses = comps.map((c) => negbinLogWindowMass(c.mean, c.r, min, max))
    ll = 0
    for (let i = 0; i < K; i++) {
      let top = Number.NEGATIVE_INFINITY
      for (let j = 0; j < m; j++) {
        const c = comps[j]
        const lp = Math.log(c.weight) + negbinLogPmf(g.values[i], c.mean, c.r, logFacts[i]) - logMasses[j]
        resp[i * m + j] = lp
        if (lp > top) top = lp
      }
      let f = 0
      for (let j = 0; j < m; j++) f += (resp[i * m + j] = Math.exp(resp[i * m + j] - top))
      for (let j = 0; j < m; j++) resp[i * m + j] /= f
      ll += g.counts[i] * (top + Math.log(f))
    }
    if (it > 0 && ll - prevLl < EM_TOLERANCE * Math.abs(ll)) break
    prevLl = ll
    comps = comps.map((c, j) => {
      const w: number[] = new Array<number>(K)
      let nj = 0
      for (let i = 0; i < K; i++) { w[i] = resp[i * m + j]; nj += g.counts[i] * w[i] }
      if (nj < 1e-9) return c
      const fit = fitTruncatedNegbin(g, min, max, { weights: w, start: { mean: c.mean, r: c.r }, span: 1.5, tolerance: 1e-4 })
      return { weight: nj / g.n, mean: fit.mean, r: fit.r }
    })
  }
  comps = comps.filter((c) => c.weight > 0).sort((a, b) => a.mean - b.mean)
  return { components: comps, logLikelihood: ll }
}

export interface LognormalComponent { weight: number; mu: number; sigma: number }
export interface NegbinComponent { weight: number; mean: number; r: number }

/** EM stops when an iteration gains less than this fraction of the log-likelihood. */
const EM_TOLERANCE = 1e-7
/** Iterations each starting point gets before the best one is run to convergence. */
const EM_PROBE = 15

function lognormalQuantileInit (g: Grouped, m: number): LognormalComponent[] {
  return quantileInit(g, m).map((part) => {
    const mo = logMoments(part)
    return { weight: part.n / g.n, mu: mo.mean, sigma: Math.max(mo.sd, 0.05) }
  })
}

function negbinQuantileInit (g: Grouped, m: number): NegbinComponent[] {
  return quantileInit(g, m).map((part) => {
    const mo = weightedMoments(part, null)
    return { weight: part.n / g.n, mean: Math.max(mo.mean, 0.01), r: momentR(mo.mean, mo.variance) }
  })
}

/**
 * Starting points for an m-component EM: equal-count slices of the data, and every way of
 * splitting one component of the (m−1)-component fit in two (EM from a single start often stops in
 * a poor local optimum on multi-modal data like real prompt lengths). Each gets a few iterations;
 * the best is run to convergence.
 */
function bestStart<C> (starts: C[][], run: (init: C[], iterations: number) => { components: C[]; logLikelihood: number }): C[] {
  let best: { components: C[]; logLikelihood: number } | null = null
  for (const s of starts) {
    const r = run(s, EM_PROBE)
    if (best === null || r.logLikelihood > best.logLikelihood) best = r
  }
  return (best as { components: C[] }).components
}

/**
 * A start at the m tallest peaks of a histogram of ln(length) (cells 0.05 wide): prompt lengths
 * pile up at template sizes, which quantile slices straddle.
 */
function lognormalPeakInit (g: Grouped, m: number): LognormalComponent[] | null {
  const width = 0.05
  const cells = new Map<number, number>()
  for (let i = 0; i < g.values.length; i++) {
    const c = Math.floor(Math.log(Math.max(g.values[i], 0.5)) / width)
    cells.set(c, (cells.get(c) ?? 0) + g.counts[i])
  }
  const peaks = [...cells.entries()]
    .filter(([c, n]) => n >= (cells.get(c - 1) ?? 0) && n >= (cells.get(c + 1) ?? 0))
    .sort((a, b) => b[1] - a[1])
    .slice(0, m)
  if (peaks.length < m) return null
  return peaks.map(([c, n]) => ({ weight: Math.max(n / g.n, 0.02), mu: (c + 0.5) * width, sigma: 0.15 }))
}

export function fitLognormalMixture (g: Grouped, m: number, min: number, max: number, previous?: LognormalComponent[]): { components: LognormalComponent[]; logLikelihood: number } {
  const starts: LognormalComponent[][] = [lognormalQuantileInit(g, m)]
  const peaks = lognormalPeakInit(g, m)
  if (peaks !== null) starts.push(peaks)
  if (previous !== undefined && previous.length === m - 1) {
    for (let j = 0; j < previous.length; j++) {
      const c = previous[j]
      const rest = previous.filter((_, i) => i !== j)
      starts.push([...rest,
        { weight: c.weight / 2, mu: c.mu - c.sigma / 2, sigma: c.sigma * 0.6 },
        { weight: c.weight / 2, mu: c.mu + c.sigma / 2, sigma: c.sigma * 0.6 }])
    }
  }
  const run = (init: LognormalComponent[], it: number): { components: LognormalComponent[]; logLikelihood: number } => emLognormalMixture(g, init, min, max, it)
  return run(bestStart(starts, run), 1000)
}

export function fitNegbinMixture (g: Grouped, m: number, min: number, max: number, previous?: NegbinComponent[]): { components: NegbinComponent[]; logLikelihood: number } {
  const starts: NegbinComponent[][] = [negbinQuantileInit(g, m)]
  if (previous !== undefined && previous.length === m - 1) {
    for (let j = 0; j < previous.length; j++) {
      const c = previous[j]
      const rest = previous.filter((_, i) => i !== j)
      const sd = Math.sqrt(c.mean + c.mean * c.mean / c.r)
      starts.push([...rest,
        { weight: c.weight / 2, mean: Math.max(c.mean - sd / 2, 0.01), r: c.r * 2 },
        { weight: c.weight / 2, mean: c.mean + sd / 2, r: c.r * 2 }])
    }
  }
  const run = (init: NegbinComponent[], it: number): { components: NegbinComponent[]; logLikelihood: number } => emNegbinMixture(g, init, min, max, it)
  return run(bestStart(starts, run), 120)
}

// ---- candidates and selection -------------------------------------------------------------

type CandidateSpec =
  | { family: 'lognormal' | 'negbin'; components: number }
  | { family: 'empirical' }

export function describeDistribution (d: LengthDistribution): string {
  switch (d.kind) {
    case 'lognormal': return `lognormal(mu=${d.mu.toFixed(4)}, sigma=${d.sigma.toFixed(4)})`
    case 'negbin': return `negbin(mean=${d.mean.toFixed(2)}, r=${d.r.toFixed(3)})`
    case 'lognormal-mixture': return `lognormal-mixture(${d.components.length})`
    case 'negbin-mixture': return `negbin-mixture(${d.components.length})`
    case 'empirical': return `empirical(${d.values.length} values)`
  }
}

/**
 * Fits one candidate. `previous` is the same family's fit with one component fewer (a source of
 * starting points); `warm` is a fit of this very candidate on other data (the cross-validation
 * halves start from the full-data fit, which only picks the basin: EM then maximises the half's own
 * likelihood).
 */
function fitCandidate (spec: CandidateSpec, g: Grouped, min: number, max: number, previous?: LengthDistribution, warm?: LengthDistribution): WindowedFit {
  if (spec.family === 'empirical') {
    return { distribution: { kind: 'empirical', values: g.values.slice(), counts: g.counts.slice() }, logLikelihood: null, params: g.values.length - 1 }
  }
  const m = spec.components
  if (spec.family === 'lognormal') {
    if (m === 1) {
      const f = fitTruncatedLognormal(g, min, max)
      return { distribution: { kind: 'lognormal', mu: f.mu, sigma: f.sigma, min, max }, logLikelihood: f.logLikelihood, params: 2 }
    }
    const f = warm?.kind === 'lognormal-mixture'
      ? emLognormalMixture(g, warm.components, min, max, 1000)
      : fitLognormalMixture(g, m, min, max, lognormalComponents(previous))
    return { distribution: { kind: 'lognormal-mixture', components: f.components, min, max }, logLikelihood: f.logLikelihood, params: 3 * f.components.length - 1 }
  }
  if (m === 1) {
    const f = fitTruncatedNegbin(g, min, max)
    return { distribution: { kind: 'negbin', mean: f.mean, r: f.r, min, max }, logLikelihood: f.logLikelihood, params: 2 }
  }
  const f = warm?.kind === 'negbin-mixture'
    ? emNegbinMixture(g, warm.components, min, max, 120)
    : fitNegbinMixture(g, m, min, max, negbinComponents(previous))
  return { distribution: { kind: 'negbin-mixture', components: f.components, min, max }, logLikelihood: f.logLikelihood, params: 3 * f.components.length - 1 }
}

function lognormalComponents (d: LengthDistribution | undefined): LognormalComponent[] | undefined {
  if (d?.kind === 'lognormal') return [{ weight: 1, mu: d.mu, sigma: d.sigma }]
  if (d?.kind === 'lognormal-mixture') return d.components
  return undefined
}

function negbinComponents (d: LengthDistribution | undefined): NegbinComponent[] | undefined {
  if (d?.kind === 'negbin') return [{ weight: 1, mean: d.mean, r: d.r }]
  if (d?.kind === 'negbin-mixture') return d.components
  return undefined
}

const MAX_NEGBIN_COMPONENTS = 4

/** Below this many observations the cross-validation halves are too small to mean anything. */
const MIN_CV = 40

/**
 * Fits every candidate (each family alone and as mixtures of 2..maxComponents, plus the empirical
 * distribution), measures each one's KS distance in-sample and two-fold cross-validated, and
 * chooses the simplest candidate (fewest free parameters) whose cross-validated KS is within
 * 1/√n of the best one: differences smaller than the KS statistic's own sampling noise (its mean
 * under a correct model is about 0.87/√n) are not evidence that the extra parameters help.
 */
export function fitLengths (data: readonly number[], opts: FitLengthsOptions = {}): LengthFit {
  if (data.length === 0) throw new RangeError('fitLengths: no data')
  const families = opts.families ?? ['lognormal', 'negbin', 'empirical']
  const g = groupValues(data)
  const min = opts.min ?? g.values[0]
  const max = opts.max ?? g.values[g.values.length - 1]
  const maxComponents = Math.max(1, Math.min(opts.maxComponents ?? 6, g.values.length))
  const specs: CandidateSpec[] = []
  if (g.values.length >= 2) {
    for (const family of families) {
      if (family === 'empirical') continue
      // Negative-binomial mixtures need an inner optimisation per component and EM step; beyond
      // 4 components they cost more than they add.
      const top = family === 'negbin' ? Math.min(maxComponents, MAX_NEGBIN_COMPONENTS) : maxComponents
      for (let m = 1; m <= top; m++) {
        // A mixture needs a few distinct values per component to be identifiable.
        if (m > 1 && g.values.length < 3 * m) break
        specs.push({ family, components: m })
      }
    }
  }
  if (families.includes('empirical') || specs.length === 0) specs.push({ family: 'empirical' })

  const halves: [number[], number[]] = [[], []]
  data.forEach((v, i) => { halves[i % 2].push(v) })
  const gh = halves.map(groupValues)
  const doCv = data.length >= MIN_CV

  const candidates: Array<CandidateFit<LengthDistribution>> = []
  let previous: LengthDistribution | undefined
  for (const spec of specs) {
    let fit: WindowedFit
    let model: LengthModel
    try {
      fit = fitCandidate(spec, g, min, max, spec.family !== 'empirical' && spec.components > 1 ? previous : undefined)
      model = createLengthModel(fit.distribution)
    } catch {
      continue // a family that cannot describe the data at all (e.g. a window it cannot reach)
    }
    previous = fit.distribution
    let cvKs: number | null = null
    if (doCv) {
      try {
        let sum = 0
        for (let h = 0; h < 2; h++) {
          const train = gh[h]
          const test = gh[1 - h]
          const cdf = spec.family === 'empirical' ? empiricalCdf(train) : createLengthModel(fitCandidate(spec, train, min, max, undefined, fit.distribution).distribution).cdf
          sum += ksDistance(test, cdf)
        }
        cvKs = sum / 2
      } catch {
        cvKs = null
      }
    }
    candidates.push({
      distribution: fit.distribution,
      params: fit.params,
      ks: ksDistance(g, model.cdf),
      cvKs,
      logLikelihood: fit.logLikelihood,
      qq: qqPoints(g, model.quantile)
    })
  }
  const { index, reason } = choose(candidates, g.n, (c) => describeDistribution(c.distribution))
  return { chosen: candidates[index].distribution, chosenIndex: index, reason, candidates, n: g.n }
}

/** The selection rule shared by every fit (lengths, arrivals); see fitLengths. */
export function choose<D> (candidates: ReadonlyArray<CandidateFit<D>>, n: number, name: (c: CandidateFit<D>) => string): { index: number; reason: string } {
  const score = (c: CandidateFit<D>): number => c.cvKs ?? c.ks
  const tolerance = 1 / Math.sqrt(n)
  let best = 0
  for (let i = 1; i < candidates.length; i++) if (score(candidates[i]) < score(candidates[best])) best = i
  const bestScore = score(candidates[best])
  let chosen = -1
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]
    if (score(c) > bestScore + tolerance) continue
    if (chosen < 0 || c.params < candidates[chosen].params || (c.params === candidates[chosen].params && score(c) < score(candidates[chosen]))) chosen = i
  }
  const kind = candidates[best].cvKs === null ? 'KS' : 'cross-validated KS'
  const reason = chosen === best
    ? `${name(candidates[chosen])}: best ${kind} ${score(candidates[chosen]).toFixed(4)}`
    : `${name(candidates[chosen])} (${kind} ${score(candidates[chosen]).toFixed(4)}, ${candidates[chosen].params} parameters): ` +
      `the simplest candidate within 1/√n = ${tolerance.toFixed(4)} of the best ${kind} ` +
      `(${score(candidates[best]).toFixed(4)}, ${name(candidates[best])}, ${candidates[best].params} parameters)`
  return { index: chosen, reason }
}
