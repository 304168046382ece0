/**
 * The special functions the samplers need, accurate to close to double precision so that truncated
 * distributions can be sampled and described exactly (not approximately) from their CDFs.
 */

const A = [2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582, 18154.981253343561249, 0.065682337918207449113]
const B = [47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956]
const C = [
  0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226, 2494.5375852903726711,
  6848.1904505362823326, 11602.651437647350124, 9842.7148383839780218, 1.0765576773720192317e-8
]
const D = [
  22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755, 18615.571640885098091,
  34900.952721145977266, 38912.003286093271411, 19685.429676859990727
]
const P = [0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466, 2.9112874951168792e-5, 0.02307344176494017303]
const Q = [1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244, 7.29751555083966205e-5]
const INV_SQRT_2PI = 0.398942280401432677939946059934

/** exp(-y²/2) * factor, with y² split so that the exponent is exact for the leading part (Cody). */
function gaussTail(y: number, factor: number): number {
  const ysq = Math.trunc(y * 16) / 16
  const del = (y - ysq) * (y + ysq)
  return Math.exp(-ysq * ysq * 0.5) * Math.exp(-del * 0.5) * factor
}

/**
 * Standard normal CDF Φ(x): W. J. Cody's rational Chebyshev approximations (ACM TOMS 715, the
 * algorithm behind R's pnorm), relative accuracy about 1e-15 over the whole range. The lower tail is
 * computed directly, so Φ(x) for very negative x keeps its relative accuracy; callers wanting the
 * upper tail should use Φ(-x) rather than 1 - Φ(x).
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN
  const y = Math.abs(x)
  if (y <= 0.67448975) {
    let num = 0
    let den = 0
    if (y > 1.1102230246251565e-16) {
      const xsq = x * x
      num = A[4] * xsq
      den = xsq
      for (let i = 0; i < 3; i++) {
        num = (num + A[i]) * xsq
        den = (den + B[i]) * xsq
      }
    }
    return 0.5 + x * (num + A[3]) / (den + B[3])
  }
  let tail: number
  if (y <= 5.656854249492380195) {
    let num = C[8] * y
    let den = y
    for (let i = 0; i < 7; i++) {
      num = (num + C[i]) * y
      den = (den + D[i]) * y
    }
    tail = gaussTail(y, (num + C[7]) / (den + D[7]))
  } else if (y < 38.5) {
    const xsq = 1 / (x * x)
    let num = P[5] * xsq
    let den = xsq
    for (let i = 0; i < 4; i++) {
      num = (num + P[i]) * xsq
      den = (den + Q[i]) * xsq
    }
    const r = xsq * (num + P[4]) / (den + Q[4])
    tail = gaussTail(y, (INV_SQRT_2PI - r) / y)
  } else {
    tail = 0
  }
  return x > 0 ? 1 - tail : tail
}

/**
 * Φ(b) - Φ(a) for a <= b without cancellation: in the upper tail it is computed as Φ(-a) - Φ(-b),
 * where both terms are small and accurate. Infinite bounds are allowed.
 */
export function normalMass(a: number, b: number): number {
  if (!(a < b)) return 0
  if (a >= 0) return normalCdf(-a) - normalCdf(-b)
  if (b <= 0) return normalCdf(b) - normalCdf(a)
  return 1 - normalCdf(a) - normalCdf(-b)
}

/**
 * Inverse standard normal CDF, Wichura's AS241 (PPND16), relative accuracy about 1e-16.
 * p = 0 gives -Infinity, p = 1 gives +Infinity. For p close to 1, precision is limited by 1 - p;
 * callers needing the far upper tail use symmetry: Φ⁻¹(1 - q) = -Φ⁻¹(q).
 */
export function normalInvCdf(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN
  if (p === 0) return Number.NEGATIVE_INFINITY
  if (p === 1) return Number.POSITIVE_INFINITY
  const q = p - 0.5
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q
    return q * (((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r + 6.7265770927008700853e4) * r +
      4.5921953931549871457e4) * r + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r +
      1.3314166789178437745e2) * r + 3.3871328727963666080e0) /
      (((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r + 3.9307895800092710610e4) * r +
        2.1213794301586595867e4) * r + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r +
        4.2313330701600911252e1) * r + 1)
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p))
  let x: number
  if (r <= 5) {
    r -= 1.6
    x = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r + 2.41780725177450611770e-1) * r +
      1.27045825245236838258e0) * r + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r +
      4.63033784615654529590e0) * r + 1.42343711074968357734e0) /
      (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r + 1.51986665636164571966e-2) * r +
        1.48103976427480074590e-1) * r + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r +
        2.05319162663775882187e0) * r + 1)
  } else {
    r -= 5
    x = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 1.24266094738807843860e-3) * r +
      2.65321895265761230930e-2) * r + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r +
      5.46378491116411436990e0) * r + 6.65790464350110377720e0) /
      (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r + 1.84631831751005468180e-5) * r +
        7.86869131145613259100e-4) * r + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r +
        5.99832206555887937690e-1) * r + 1)
  }
  return q < 0 ? -x : x
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
]
const HALF_LOG_2PI = 0.91893853320467274

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative accuracy about 1e-15; reflection below 0.5). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  x -= 1
  let a = LANCZOS[0]
  const t = x + 7.5
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i)
  return HALF_LOG_2PI + (x + 0.5) * Math.log(t) - t + Math.log(a)
}
