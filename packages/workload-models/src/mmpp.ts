/**
 * The two-state Markov-modulated Poisson process: arrivals at rate rates[s] while in state s,
 * switching 0 → 1 at rate switchRates[0] and 1 → 0 at switchRates[1]. Helpers for its likelihood
 * (forward algorithm over the gaps) and its stationary interval distribution.
 */

type Mat2 = [number, number, number, number] // row-major [m00, m01, m10, m11]

/** exp(M x) for the 2x2 matrix M = Q − Λ (real eigenvalues: its off-diagonal product is >= 0). */
function expm2 (m: Mat2, x: number): Mat2 {
  const s = (m[0] + m[3]) / 2
  const h = (m[0] - m[3]) / 2
  const d = Math.sqrt(h * h + m[1] * m[2])
  const e1 = Math.exp((s + d) * x)
  const e2 = Math.exp((s - d) * x)
  const ch = (e1 + e2) / 2
  // sinh(dx)/d · e^{sx}; for d → 0 it tends to x·e^{sx}.
  const sh = d * x > 1e-8 ? (e1 - e2) / (2 * d) : x * Math.exp(s * x)
  return [ch + sh * (m[0] - s), sh * m[1], sh * m[2], ch + sh * (m[3] - s)]
}

export interface Mmpp2 { rates: [number, number]; switchRates: [number, number] }

function generator (p: Mmpp2): Mat2 {
  const [l0, l1] = p.rates
  const [a, b] = p.switchRates
  return [-a - l0, a, b, -b - l1]
}

/** Stationary state probabilities of the modulating chain. */
export function mmppStationary (p: Mmpp2): [number, number] {
  const [a, b] = p.switchRates
  return [b / (a + b), a / (a + b)]
}

export function mmppMeanRate (p: Mmpp2): number {
  const pi = mmppStationary(p)
  return pi[0] * p.rates[0] + pi[1] * p.rates[1]
}

/** State distribution just after an arrival, in the stationary regime: πΛ / λ̄. */
function arrivalStationary (p: Mmpp2): [number, number] {
  const pi = mmppStationary(p)
  const m = mmppMeanRate(p)
  return [pi[0] * p.rates[0] / m, pi[1] * p.rates[1] / m]
}

/** Log-likelihood of consecutive gaps (forward algorithm, normalised at every step). */
export function mmppLogLikelihood (p: Mmpp2, gaps: ArrayLike<number>): number {
  const m = generator(p)
  let [v0, v1] = arrivalStationary(p)
  let ll = 0
  for (let i = 0; i < gaps.length; i++) {
    const e = expm2(m, gaps[i])
    const w0 = (v0 * e[0] + v1 * e[2]) * p.rates[0]
    const w1 = (v0 * e[1] + v1 * e[3]) * p.rates[1]
    const s = w0 + w1
    if (!(s > 0)) return Number.NEGATIVE_INFINITY
    ll += Math.log(s)
    v0 = w0 / s
    v1 = w1 / s
  }
  return ll
}

/** P(gap <= x) for the stationary interval distribution: 1 − φ e^{(Q−Λ)x} 1. */
export function mmppGapCdf (p: Mmpp2, x: number): number {
  if (x <= 0) return 0
  const e = expm2(generator(p), x)
  const [f0, f1] = arrivalStationary(p)
  return 1 - (f0 * (e[0] + e[1]) + f1 * (e[2] + e[3]))
}

/** The same process with time rescaled so that its mean rate is 1. */
export function normaliseMmpp (p: Mmpp2): Mmpp2 {
  const m = mmppMeanRate(p)
  return { rates: [p.rates[0] / m, p.rates[1] / m], switchRates: [p.switchRates[0] / m, p.switchRates[1] / m] }
}
