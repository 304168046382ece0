import type { ArrivalModel, CandidateFit, GapProcess } from './types.ts'
import { incompleteGammaP, nelderMead } from './numeric.ts'
import type { Mmpp2 } from './mmpp.ts'
import { mmppGapCdf, mmppLogLikelihood, normaliseMmpp } from './mmpp.ts'
import { choose } from './fit-lengths.ts'
import { QQ_PROBABILITIES } from './goodness-of-fit.ts'
import { logGamma } from '@loadmesh/workload'

export const MINUTE_MS = 60_000

/**
 * The arrival profile: bins of one minute over [0, periodMs); the last bin may be shorter, and its
 * rate is its count over its own length. Cumulative intensity Λ(t) is piecewise linear and
 * Λ(periodMs) equals the number of arrivals, so the profile reproduces every minute's count.
 */
export interface Profile { periodMs: number; ratePerMinute: number[]; binMs: number[]; cumulative: number[]; total: number }

export function buildProfile (ratePerMinute: readonly number[], periodMs: number): Profile {
  const bins = ratePerMinute.length
  const binMs: number[] = []
  const cumulative: number[] = [0]
  for (let j = 0; j < bins; j++) {
    const len = j < bins - 1 ? MINUTE_MS : periodMs - MINUTE_MS * (bins - 1)
    binMs.push(len)
    cumulative.push(cumulative[j] + ratePerMinute[j] * len / MINUTE_MS)
  }
  return { periodMs, ratePerMinute: ratePerMinute.slice(), binMs, cumulative, total: cumulative[bins] }
}

/** Λ(t) for t in [0, periodMs]. */
export function intensityAt (p: Profile, t: number): number {
  const j = Math.min(Math.floor(t / MINUTE_MS), p.binMs.length - 1)
  return p.cumulative[j] + p.ratePerMinute[j] * (t - j * MINUTE_MS) / MINUTE_MS
}

/** Λ⁻¹(u) for u in [0, total]: the time by which u arrivals are expected. */
export function timeAtIntensity (p: Profile, u: number): number {
  const c = p.cumulative
  let lo = 0
  let hi = p.binMs.length - 1
  // Last bin j with c[j] <= u and a positive rate (zero-rate bins are skipped: nothing arrives there).
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (c[mid] <= u) lo = mid
    else hi = mid - 1
  }
  while (lo > 0 && p.ratePerMinute[lo] === 0) lo--
  const rate = p.ratePerMinute[lo]
  if (rate === 0) return 0
  return lo * MINUTE_MS + Math.min(p.binMs[lo], (u - c[lo]) * MINUTE_MS / rate)
}

function gapCv (gaps: ArrayLike<number>): number {
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < gaps.length; i++) { s1 += gaps[i]; s2 += gaps[i] * gaps[i] }
  const m = s1 / gaps.length
  return Math.sqrt(Math.max(s2 / gaps.length - m * m, 0)) / m
}

function lag1 (gaps: ArrayLike<number>): number {
  const n = gaps.length
  if (n < 3) return 0
  let m = 0
  for (let i = 0; i < n; i++) m += gaps[i] / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    den += (gaps[i] - m) ** 2
    if (i > 0) num += (gaps[i] - m) * (gaps[i - 1] - m)
  }
  return den > 0 ? num / den : 0
}

/** KS distance between continuous data (sorted) and a continuous CDF. */
function ksContinuous (sorted: Float64Array, cdf: (x: number) => number): number {
  const n = sorted.length
  let d = 0
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i])
    d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f))
  }
  return d
}

function quantileFromCdf (cdf: (x: number) => number, p: number): number {
  let lo = 0
  let hi = 1
  while (cdf(hi) < p && hi < 1e6) hi *= 2
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (cdf(mid) < p) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

export function gapProcessCdf (g: GapProcess): (x: number) => number {
  switch (g.kind) {
    case 'poisson': return (x) => (x <= 0 ? 0 : -Math.expm1(-x))
    case 'gamma': return (x) => incompleteGammaP(g.shape, g.shape * x)
    case 'mmpp2': return (x) => mmppGapCdf(g, x)
  }
}

function candidate (process: GapProcess, params: number, sorted: Float64Array, logLikelihood: number): CandidateFit<GapProcess> {
  const cdf = gapProcessCdf(process)
  const n = sorted.length
  return {
    distribution: process,
    params,
    ks: ksContinuous(sorted, cdf),
    cvKs: null,
    logLikelihood,
    qq: QQ_PROBABILITIES.map((p) => ({ p, data: sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))], model: quantileFromCdf(cdf, p) }))
  }
}

function describeProcess (g: GapProcess): string {
  switch (g.kind) {
    case 'poisson': return 'poisson'
    case 'gamma': return `gamma(shape=${g.shape.toFixed(3)})`
    case 'mmpp2': return `mmpp2(rates=${g.rates.map((r) => r.toFixed(3)).join('/')}, switch=${g.switchRates.map((r) => r.toPrecision(3)).join('/')})`
  }
}

/** Fits the 2-state MMPP by maximum likelihood (Nelder-Mead on the logs of its four rates, from a few starts). */
export function fitMmpp2 (gaps: Float64Array): { process: Mmpp2; logLikelihood: number } {
  const f = (x: number[]): number => -mmppLogLikelihood({ rates: [Math.exp(x[0]), Math.exp(x[1])], switchRates: [Math.exp(x[2]), Math.exp(x[3])] }, gaps)
  let best: { x: number[]; fx: number } | null = null
  // Two starts: slow switching between a busy and a quiet state, and fast switching (which shapes
  // the gap distribution itself, e.g. fewer very short gaps than Poisson).
  for (const start of [[Math.log(2), Math.log(0.5), Math.log(0.05), Math.log(0.05)], [Math.log(4), Math.log(0.1), Math.log(20), Math.log(20)]]) {
    const r = nelderMead(f, start, { step: [0.5, 0.5, 1, 1], tolerance: 1e-9, maxEvaluations: 600 })
    if (best === null || r.fx < best.fx) best = r
  }
  const x = (best as { x: number[]; fx: number }).x
  const raw: Mmpp2 = { rates: [Math.exp(x[0]), Math.exp(x[1])], switchRates: [Math.exp(x[2]), Math.exp(x[3])] }
  // Put the busier state first, and rescale to mean rate 1 (the profile carries the rate).
  const ordered: Mmpp2 = raw.rates[0] >= raw.rates[1] ? raw : { rates: [raw.rates[1], raw.rates[0]], switchRates: [raw.switchRates[1], raw.switchRates[0]] }
  const process = normaliseMmpp(ordered)
  return { process, logLikelihood: mmppLogLikelihood(process, gaps) }
}

/**
 * Fits arrivals at the given times (ms, sorted): the per-minute rate profile, then the gaps in
 * operational time u = Λ(t) (where the profile is flattened to rate 1), which carry the
 * burstiness: Poisson (exponential gaps), Gamma with shape 1/CV² (the CV of the flattened gaps) or
 * a 2-state MMPP (maximum likelihood). The choice uses the same rule as lengths, on in-sample KS
 * (all three are small parametric models).
 */
export function fitArrivals (times: readonly number[], unit: 'request' | 'session', opts: { periodMs?: number } = {}): ArrivalModel {
  const n = times.length
  const span = times[n - 1] - times[0]
  // A log whose records share one instant has no rate of its own; a 1 ms period keeps it a burst.
  const periodMs = Math.max(opts.periodMs ?? (n >= 2 ? span + span / (n - 1) : MINUTE_MS), 1)
  const bins = Math.max(1, Math.ceil(periodMs / MINUTE_MS))
  const counts = new Array<number>(bins).fill(0)
  for (const t of times) counts[Math.min(bins - 1, Math.floor((t - times[0]) / MINUTE_MS))]++
  const ratePerMinute = counts.map((c, j) => c * MINUTE_MS / (j < bins - 1 ? MINUTE_MS : periodMs - MINUTE_MS * (bins - 1)))
  const profile = buildProfile(ratePerMinute, periodMs)
  const rawGaps = new Float64Array(Math.max(n - 1, 0))
  const gaps = new Float64Array(Math.max(n - 1, 0))
  let prevU = intensityAt(profile, 0)
  for (let i = 1; i < n; i++) {
    rawGaps[i - 1] = times[i] - times[i - 1]
    const u = intensityAt(profile, times[i] - times[0])
    gaps[i - 1] = u - prevU
    prevU = u
  }
  let gapSum = 0
  for (const g of gaps) gapSum += g
  const usable = gaps.length >= 2 && gapSum > 0
  const cv = usable ? gapCv(gaps) : 1
  const sorted = Float64Array.from(gaps).sort()
  const candidates: Array<CandidateFit<GapProcess>> = []
  if (usable) {
    let llExp = 0
    for (const g of gaps) llExp -= g
    candidates.push(candidate({ kind: 'poisson' }, 0, sorted, llExp))
    const shape = 1 / Math.max(cv * cv, 1e-6)
    let llGamma = 0
    for (const g of gaps) llGamma += g > 0 ? shape * Math.log(shape) - logGamma(shape) + (shape - 1) * Math.log(g) - shape * g : 0
    candidates.push(candidate({ kind: 'gamma', shape }, 1, sorted, llGamma))
    if (gaps.length >= 50) {
      const m = fitMmpp2(gaps)
      candidates.push(candidate({ kind: 'mmpp2', rates: m.process.rates, switchRates: m.process.switchRates }, 3, sorted, m.logLikelihood))
    }
  } else {
    candidates.push({ distribution: { kind: 'poisson' }, params: 0, ks: 0, cvKs: null, logLikelihood: null, qq: [] })
  }
  const { index, reason } = choose(candidates, Math.max(gaps.length, 1), (c) => describeProcess(c.distribution))
  return {
    ratePerMinute,
    periodMs,
    meanRatePerSec: n * 1000 / periodMs,
    gapCv: usable ? gapCv(rawGaps) : 0,
    rescaledGapCv: cv,
    lag1Autocorrelation: usable ? lag1(gaps) : 0,
    process: { chosen: candidates[index].distribution, chosenIndex: index, reason, candidates, n: gaps.length },
    unit
  }
}
