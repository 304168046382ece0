import assert from 'node:assert/strict'
import test from 'node:test'
import { reqPerSGoalMet } from '../src/suites/req-per-s.ts'

test('the req/s goal needs both noise-resistant ratios at 1 or more, whatever the totals say', () => {
  // A bad round for autocannon makes the totals favour loadmesh; the pairs and the shared core do not.
  assert.equal(reqPerSGoalMet(30_000, 20_000, 0.97, 1.2), false)
  assert.equal(reqPerSGoalMet(30_000, 20_000, 1.05, 0.98), false)
  // And a bad round for loadmesh does not fail a client that wins both comparisons.
  assert.equal(reqPerSGoalMet(20_000, 30_000, 1.03, 1.2), true)
})

test('a --quick run without round pairs is judged on the totals, and unmeasured is unknown', () => {
  assert.equal(reqPerSGoalMet(25_000, 24_000, null, null), true)
  assert.equal(reqPerSGoalMet(23_000, 24_000, null, null), false)
  assert.equal(reqPerSGoalMet(null, 24_000, null, null), null)
  assert.equal(reqPerSGoalMet(25_000, 24_000, 0.9, null), false)
})
