import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createBreakdownRecorder, encodeBreakdownSnapshot } from '@loadmesh/metrics'
import type { BreakdownSnapshot } from '@loadmesh/metrics'
import { createBreakdownStore } from '../src/index.ts'

const breakdown = createBreakdownRecorder({ dimensions: ['endpoint'] }).snapshot()
const snap = (finished: number, final = false): BreakdownSnapshot => ({ finished, final, breakdown })

test('the newest snapshot of a (run, peer) wins whatever order they arrive in (property)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(1000), fc.boolean()), { minLength: 1, maxLength: 20 }), (arrivals) => {
    const store = createBreakdownStore()
    for (const [n, final] of arrivals) store.put('r', 'p', snap(n, final))
    const max = Math.max(...arrivals.map(([n]) => n))
    const got = store.get('r', 'p')
    assert.equal(got?.finished, max)
    assert.equal(got?.final, arrivals.some(([n, f]) => n === max && f))
  }), { seed: 11, numRuns: 200 })
})

test('runs and peers are kept apart; a dead peer\'s last snapshot stays; old runs are evicted past the bound', () => {
  const store = createBreakdownStore({ maxRuns: 2 })
  assert.equal(store.put('r1', 'a', snap(5)), true)
  assert.equal(store.put('r1', 'b', snap(3)), true)
  assert.equal(store.put('r1', 'a', snap(4)), false)
  assert.deepEqual(store.peers('r1'), ['a', 'b'])
  assert.equal(store.get('r2', 'a'), undefined)
  store.put('r2', 'a', snap(1))
  store.put('r3', 'a', snap(1))
  assert.deepEqual(store.peers('r1'), [])
  assert.deepEqual(store.peers('r3'), ['a'])
})

test('putEncoded keeps verified bytes and hands the same bytes on; bad bytes are refused, not thrown', () => {
  const store = createBreakdownStore()
  const bytes = encodeBreakdownSnapshot(snap(7, true))
  assert.deepEqual(store.putEncoded('r', 'a', bytes), { ok: true, kept: true })
  assert.equal(store.encoded('r', 'a'), bytes)
  assert.deepEqual(store.putEncoded('r', 'a', encodeBreakdownSnapshot(snap(6))), { ok: true, kept: false })
  const bad = store.putEncoded('r', 'a', new TextEncoder().encode('{"v":1,"finished":-3}'))
  assert.equal(bad.ok, false)
  if (!bad.ok) assert.match(bad.reason, /breakdown of a in run r.*finished/)
  assert.equal(store.get('r', 'a')?.finished, 7, 'a refused snapshot leaves the kept one')
  // A local snapshot is encoded once, on first demand.
  store.put('r', 'b', snap(2))
  const enc = store.encoded('r', 'b')
  assert.ok(enc !== undefined)
  assert.equal(store.encoded('r', 'b'), enc)
})
