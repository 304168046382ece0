import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { normalCdf, normalInvCdf, logGamma } from '../src/index.ts'

// Reference values computed with mpmath at 60 digits.
const CDF: Array<[number, number]> = [
  [-37, 5.725571222524577e-300], [-20, 2.7536241186062337e-89], [-8, 6.220960574271784e-16],
  [-5.5, 1.8989562465887718e-8], [-3, 0.0013498980316300946], [-1, 0.15865525393145705],
  [-0.3, 0.3820885778110474], [0, 0.5], [0.5, 0.6914624612740131], [1.7, 0.955434537241457],
  [4, 0.9999683287581669], [6.5, 0.99999999995984]
]
const INV: Array<[number, number]> = [
  [1e-300, -37.0470962993612], [1e-20, -9.262340089798407], [1e-6, -4.753424308822899],
  [0.01, -2.326347874040841], [0.3, -0.5244005127080408], [0.5, 0], [0.8, 0.8416212335729144],
  [0.99, 2.3263478740408408], [0.999999, 4.753424308817087]
]
const LGAMMA: Array<[number, number]> = [
  [0.001, 6.907178885383853], [0.5, 0.5723649429247001], [1, 0], [2.5, 0.2846828704729192],
  [10, 12.801827480081469], [171.5, 709.1431630309282], [1e6, 12815504.569147611]
]

const close = (got: number, want: number, rel: number): boolean =>
  Math.abs(got - want) <= rel * Math.max(Math.abs(want), 1e-300) || (want === 0 && Math.abs(got) < 1e-15)

test('normal CDF matches high-precision values to ~1e-14 relative, tails included', () => {
  for (const [x, want] of CDF) assert.ok(close(normalCdf(x), want, 1e-14), `Φ(${x}) = ${normalCdf(x)}, want ${want}`)
  assert.equal(normalCdf(-40), 0)
  assert.equal(normalCdf(Number.POSITIVE_INFINITY), 1)
  assert.equal(normalCdf(Number.NEGATIVE_INFINITY), 0)
})

test('inverse normal CDF matches high-precision values to ~1e-14 relative', () => {
  for (const [p, want] of INV) assert.ok(close(normalInvCdf(p), want, 1e-14), `Φ⁻¹(${p}) = ${normalInvCdf(p)}, want ${want}`)
  assert.equal(normalInvCdf(0), Number.NEGATIVE_INFINITY)
  assert.equal(normalInvCdf(1), Number.POSITIVE_INFINITY)
  assert.ok(Number.isNaN(normalInvCdf(1.5)))
})

test('Φ⁻¹(Φ(x)) = x to 1e-9 across the lower half-line (property)', () => {
  fc.assert(fc.property(fc.double({ min: -37, max: 0, noNaN: true }), (x) => {
    const back = normalInvCdf(normalCdf(x))
    return Math.abs(back - x) <= 1e-9 * Math.max(1, Math.abs(x))
  }), { seed: 7, numRuns: 2000 })
})

test('log-gamma matches high-precision values', () => {
  for (const [x, want] of LGAMMA) {
    assert.ok(Math.abs(logGamma(x) - want) <= 1e-13 * Math.max(1, Math.abs(want)), `lnΓ(${x}) = ${logGamma(x)}, want ${want}`)
  }
  // ln n! exactly for small n
  let f = 0
  for (let n = 1; n <= 30; n++) {
    f += Math.log(n)
    assert.ok(Math.abs(logGamma(n + 1) - f) < 1e-12 * Math.max(1, f))
  }
})
