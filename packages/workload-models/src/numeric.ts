import { normalCdf, logGamma } from '@loadmesh/workload'

/**
 * Numerical helpers for fitting. Everything is computed tail-side where it matters, because
 * truncated likelihoods divide by window masses that can be close to 1 or very small.
 */

/** Φ(b) − Φ(a) for a <= b without cancellation in either tail (infinite bounds allowed). */
export function normalMass (a: number, b: number): number {
  if (!(a < b)) return 0
  if (a >= 0) return normalCdf(-a) - normalCdf(-b)
  if (b <= 0) return normalCdf(b) - normalCdf(a)
  return 1 - normalCdf(a) - normalCdf(-b)
}

const INV_SQRT_2PI = 0.3989422804014327

export function normalPdf (x: number): number {
  return Number.isFinite(x) ? INV_SQRT_2PI * Math.exp(-0.5 * x * x) : 0
}

/**
 * First two moments of Z ~ N(0,1) conditioned on a < Z < b: E[Z] = (φ(a) − φ(b))/m,
 * E[Z²] = 1 + (aφ(a) − bφ(b))/m with m = Φ(b) − Φ(a). For a window so far out that m underflows,
 * the moments of the nearer end are used (the conditional law collapses onto it).
 */
export function truncatedNormalMoments (a: number, b: number): { m1: number; m2: number; mass: number } {
  const mass = normalMass(a, b)
  if (!(mass > 1e-300)) {
    const edge = Math.abs(a) < Math.abs(b) ? a : b
    return { m1: edge, m2: edge * edge, mass }
  }
  const pa = normalPdf(a)
  const pb = normalPdf(b)
  const m1 = (pa - pb) / mass
  const ta = Number.isFinite(a) ? a * pa : 0
  const tb = Number.isFinite(b) ? b * pb : 0
  return { m1, m2: 1 + (ta - tb) / mass, mass }
}

/**
 * Regularised incomplete beta I_x(a, b) (continued fraction, modified Lentz; Numerical Recipes
 * betacf), relative accuracy ~1e-14. Used for negative-binomial window masses:
 * P(K <= k) = I_p(r, k + 1) with p = r/(r + mean).
 */
export function incompleteBeta (x: number, a: number, b: number): number {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const lbt = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x)
  if (x < (a + 1) / (a + b + 2)) return Math.exp(lbt + Math.log(betaContinuedFraction(x, a, b)) - Math.log(a))
  return 1 - Math.exp(lbt + Math.log(betaContinuedFraction(1 - x, b, a)) - Math.log(b))
}

/** 1 − I_x(a, b) computed directly (no cancellation when I is close to 1). */
export function incompleteBetaUpper (x: number, a: number, b: number): number {
  return incompleteBeta(1 - x, b, a)
}

function betaContinuedFraction (x: number, a: number, b: number): number {
  const TINY = 1e-300
  const qab = a + b
  const qap = a + 1
  const qam = a - 1
  let c = 1
  let d = 1 - (qab * x) / qap
  if (Math.abs(d) < TINY) d = TINY
  d = 1 / d
  let h = d
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < TINY) d = TINY
    c = 1 + aa / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2))
    d = 1 + aa * d
    if (Math.abs(d) < TINY) d = TINY
    c = 1 + aa / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 3e-16) break
  }
  return h
}

/**
 * ln P(min <= K <= max) for a negative binomial with mean m and dispersion r:
 * P(K <= k) = I_p(r, k + 1), P(K >= k) = I_q(k, r) with p = r/(r+m), q = 1 − p.
 */
export function negbinLogWindowMass (mean: number, r: number, min: number, max: number): number {
  const p = r / (r + mean)
  const below = min <= 0 ? 0 : incompleteBeta(p, r, min) // P(K <= min − 1)
  const above = Number.isFinite(max) ? incompleteBetaUpper(p, r, max + 1) : 0 // P(K >= max + 1)
  const inside = 1 - below - above
  if (inside > 1e-8) return Math.log(inside)
  // Far-tail windows: the difference of the two tail functions, each accurate on its own side.
  const lower = incompleteBeta(p, r, max + 1)
  return Math.log(Math.max(lower - below, 1e-300))
}

/** ln of the negative binomial pmf at k (mean m, dispersion r), given lnΓ(k + 1). */
export function negbinLogPmf (k: number, mean: number, r: number, logFactK: number): number {
  const lp = Math.log(r / (r + mean))
  const lq = Math.log(mean / (r + mean))
  return logGamma(k + r) - logGamma(r) - logFactK + r * lp + k * lq
}

export function logSumExp (values: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY
  for (const v of values) if (v > max) max = v
  if (!Number.isFinite(max)) return max
  let s = 0
  for (const v of values) s += Math.exp(v - max)
  return max + Math.log(s)
}

export interface NelderMeadResult { x: number[]; fx: number; evaluations: number }

/**
 * Nelder-Mead minimisation (standard coefficients 1, 2, ½, ½). Non-finite objective values count
 * as +Infinity, which keeps the simplex out of invalid regions. Stops when the simplex's spread of
 * values falls below `tolerance` (absolute) or after `maxEvaluations`.
 */
export function nelderMead (
  f: (x: number[]) => number,
  start: number[],
  opts: { step?: number[]; tolerance?: number; maxEvaluations?: number } = {}
): NelderMeadResult {
  const n = start.length
  const tol = opts.tolerance ?? 1e-9
  const maxEval = opts.maxEvaluations ?? 2000
  let evaluations = 0
  const evaluate = (x: number[]): number => {
    evaluations++
    const v = f(x)
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY
  }
  const simplex: Array<{ x: number[]; fx: number }> = [{ x: start.slice(), fx: evaluate(start) }]
  for (let i = 0; i < n; i++) {
    const x = start.slice()
    x[i] += opts.step?.[i] ?? (Math.abs(x[i]) > 1e-3 ? 0.1 * Math.abs(x[i]) : 0.1)
    simplex.push({ x, fx: evaluate(x) })
  }
  while (evaluations < maxEval) {
    simplex.sort((a, b) => a.fx - b.fx)
    const best = simplex[0]
    const worst = simplex[n]
    if (Math.abs(worst.fx - best.fx) <= tol * (1 + Math.abs(best.fx)) && Number.isFinite(worst.fx)) break
    const centroid = new Array<number>(n).fill(0)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j] += simplex[i].x[j] / n
    const along = (t: number): number[] => centroid.map((c, j) => c + t * (worst.x[j] - c))
    const xr = along(-1)
    const fr = evaluate(xr)
    if (fr < best.fx) {
      const xe = along(-2)
      const fe = evaluate(xe)
      simplex[n] = fe < fr ? { x: xe, fx: fe } : { x: xr, fx: fr }
    } else if (fr < simplex[n - 1].fx) {
      simplex[n] = { x: xr, fx: fr }
    } else {
      const xc = fr < worst.fx ? along(-0.5) : along(0.5)
      const fc = evaluate(xc)
      if (fc < Math.min(fr, worst.fx)) {
        simplex[n] = { x: xc, fx: fc }
      } else {
        for (let i = 1; i <= n; i++) {
          const x = simplex[i].x.map((v, j) => best.x[j] + 0.5 * (v - best.x[j]))
          simplex[i] = { x, fx: evaluate(x) }
        }
      }
    }
  }
  simplex.sort((a, b) => a.fx - b.fx)
  return { x: simplex[0].x, fx: simplex[0].fx, evaluations }
}

/** Values grouped: sorted distinct values and how often each occurs. */
export interface Grouped { values: number[]; counts: number[]; n: number }

export function groupValues (data: readonly number[]): Grouped {
  const sorted = Float64Array.from(data).sort()
  const values: number[] = []
  const counts: number[] = []
  for (let i = 0; i < sorted.length; i++) {
    if (values.length > 0 && values[values.length - 1] === sorted[i]) counts[counts.length - 1]++
    else { values.push(sorted[i]); counts.push(1) }
  }
  return { values, counts, n: sorted.length }
}

/**
 * Brent's method (golden section with parabolic steps) for a minimum of f on [a, b].
 * Returns the abscissa and value; `tolerance` is absolute in x.
 */
export function brentMinimize (f: (x: number) => number, a: number, b: number, tolerance = 1e-8, maxIterations = 200): { x: number; fx: number } {
  const GOLD = 0.3819660112501051
  let x = a + GOLD * (b - a)
  let w = x
  let v = x
  let fx = f(x)
  let fw = fx
  let fv = fx
  let d = 0
  let e = 0
  for (let it = 0; it < maxIterations; it++) {
    const m = 0.5 * (a + b)
    const tol1 = tolerance + 1e-10 * Math.abs(x)
    const tol2 = 2 * tol1
    if (Math.abs(x - m) <= tol2 - 0.5 * (b - a)) break
    let useGolden = true
    if (Math.abs(e) > tol1) {
      const r = (x - w) * (fx - fv)
      let q = (x - v) * (fx - fw)
      let p = (x - v) * q - (x - w) * r
      q = 2 * (q - r)
      if (q > 0) p = -p
      else q = -q
      if (Math.abs(p) < Math.abs(0.5 * q * e) && p > q * (a - x) && p < q * (b - x)) {
        e = d
        d = p / q
        const u = x + d
        if (u - a < tol2 || b - u < tol2) d = x < m ? tol1 : -tol1
        useGolden = false
      }
    }
    if (useGolden) {
      e = (x < m ? b : a) - x
      d = GOLD * e
    }
    const u = Math.abs(d) >= tol1 ? x + d : x + (d > 0 ? tol1 : -tol1)
    let fu = f(u)
    if (!Number.isFinite(fu)) fu = Number.POSITIVE_INFINITY
    if (fu <= fx) {
      if (u < x) b = x
      else a = x
      v = w; fv = fw
      w = x; fw = fx
      x = u; fx = fu
    } else {
      if (u < x) a = u
      else b = u
      if (fu <= fw || w === x) {
        v = w; fv = fw
        w = u; fw = fu
      } else if (fu <= fv || v === x || v === w) {
        v = u; fv = fu
      }
    }
  }
  return { x, fx }
}

/** Regularised lower incomplete gamma P(a, x) (series below a + 1, continued fraction above; Numerical Recipes). */
export function incompleteGammaP (a: number, x: number): number {
  if (x <= 0) return 0
  const lga = logGamma(a)
  if (x < a + 1) {
    let sum = 1 / a
    let del = sum
    let ap = a
    for (let n = 0; n < 10000; n++) {
      ap += 1
      del *= x / ap
      sum += del
      if (Math.abs(del) < Math.abs(sum) * 1e-16) break
    }
    return sum * Math.exp(-x + a * Math.log(x) - lga)
  }
  const TINY = 1e-300
  let b = x + 1 - a
  let c = 1 / TINY
  let d = 1 / b
  let h = d
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < TINY) d = TINY
    c = b + an / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 1e-16) break
  }
  return 1 - Math.exp(-x + a * Math.log(x) - lga) * h
}
