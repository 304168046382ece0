import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { clockSample } from '@loadmesh/protocol'
import { createClockOffsets, DRIFT_PPM } from '../src/index.ts'

/** (Epoch-ms doubles resolve ~0.25 µs, hence the 1e-3 ms tolerances.) One probe: the peer's clock is ours + `offset`; the probe takes `up` ms there and the answer `down` ms back. */
function probe(offset: number, up: number, down: number, t1 = 1_764_300_000_000) {
  const t2 = t1 + up + offset
  const t3 = t2 + 0.05
  return clockSample(t1, t2, t3, t1 + up + 0.05 + down)
}

function near(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-3, `${actual} is not ${expected}`)
}

test('each round keeps its shortest round trip; the estimate is within half that trip of the truth', () => {
  const c = createClockOffsets({ selfId: 'me' })
  // True offset +250 ms. A loaded loop stretches some trips, and lopsidedly (the error is (up − down) / 2).
  const o = c.onRound('peer', [probe(250, 4, 0.1), probe(250, 0.1, 0.12), probe(250, 0.3, 9), null], 1000)
  assert.ok(o !== null)
  assert.equal(o.samples, 3)
  assert.equal(o.rounds, 1)
  assert.ok(Math.abs(o.min_rtt_ms - 0.22) < 1e-3)
  assert.ok(Math.abs(o.best_offset_ms - 250) <= o.error_ms)
  assert.ok(o.error_ms <= 0.11 + 1e-3)
  assert.deepEqual(c.all().map((x) => x.peer_id), ['peer'])
})

test('property: whatever the delays, best_offset_ms is within error_ms of the true offset', () => {
  fc.assert(fc.property(
    fc.double({ min: -5000, max: 5000, noNaN: true }),
    fc.array(fc.array(fc.tuple(fc.double({ min: 0, max: 50, noNaN: true }), fc.double({ min: 0, max: 50, noNaN: true })), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
    (offset, rounds) => {
      const c = createClockOffsets({ selfId: 'me', window: 3 })
      rounds.forEach((r, i) => { c.onRound('p', r.map(([up, down]) => probe(offset, up, down)), i * 30_000) })
      const o = c.offset('p')
      assert.ok(o !== null)
      assert.ok(Math.abs(o.best_offset_ms - offset) <= o.error_ms + 1e-3, JSON.stringify(o))
      assert.ok(o.rounds <= 3)
    }
  ), { seed: 11, numRuns: 300 })
})

test('an older, tighter round is preferred only while its drift allowance keeps it tighter', () => {
  const c = createClockOffsets({ selfId: 'me' })
  c.onRound('p', [probe(10, 0.1, 0.1)], 0) // error 0.1
  const fresh = c.onRound('p', [probe(10.5, 0.5, 0.5)], 1000) // error 0.5; the old one is 0.1 + 0.05 ms of drift
  near(fresh?.best_offset_ms, 10)
  near(fresh?.error_ms, 0.1 + 1000 * DRIFT_PPM * 1e-6)
  const later = c.onRound('p', [probe(11, 0.5, 0.5)], 120_000) // the first is now 6 ms of drift old
  near(later?.best_offset_ms, 11)
})

test('schedule: new peers first, then each again after its refresh, failures retried sooner, none twice at once', () => {
  const c = createClockOffsets({ selfId: 'me', window: 1, refreshMs: 30_000, retryMs: 2000 })
  assert.deepEqual(c.due(['me', 'b', 'a'], 0, 5), ['a', 'b'])
  assert.deepEqual(c.due(['b', 'a'], 0, 1), ['a'])
  c.onStart('a', 0)
  assert.deepEqual(c.due(['a', 'b'], 0, 5), ['b'], 'a round in flight is not started again')
  c.onRound('a', [probe(0, 0.1, 0.1)], 10)
  c.onFailure('b', 10)
  assert.deepEqual(c.due(['a', 'b'], 1000, 5), [])
  assert.deepEqual(c.due(['a', 'b'], 2010, 5), ['b'])
  // A peer's refresh comes between 0.8 and 1.2 of refreshMs after its last round.
  assert.deepEqual(c.due(['a'], 10 + 0.8 * 30_000 - 1, 5), [])
  assert.deepEqual(c.due(['a'], 10 + 1.2 * 30_000, 5), ['a'])
  // A round with no usable sample is a failure.
  c.onStart('b', 3000)
  assert.equal(c.onRound('b', [null], 3000), null)
  assert.deepEqual(c.due(['b'], 4999, 5), [])
  assert.deepEqual(c.due(['b'], 5000, 5), ['b'])
  c.forget('a')
  assert.equal(c.offset('a'), null)
  assert.equal(c.onRound('me', [probe(0, 1, 1)], 0), null)
  assert.throws(() => createClockOffsets({ selfId: 'me', window: 0 }), /window must be a positive integer, got 0/)
})

test('schedule: the first rounds, and a round much looser than the best, are followed soon', () => {
  const c = createClockOffsets({ selfId: 'me', window: 3, refreshMs: 30_000, warmupMs: 5000, retryMs: 2000 })
  c.onRound('p', [probe(0, 0.1, 0.1)], 0)
  assert.deepEqual(c.due(['p'], 0.8 * 5000 - 1, 5), [])
  assert.deepEqual(c.due(['p'], 1.2 * 5000, 5), ['p'])
  c.onRound('p', [probe(0, 0.1, 0.1)], 6000)
  c.onRound('p', [probe(0, 0.1, 0.1)], 12_000)
  assert.deepEqual(c.due(['p'], 12_000 + 0.8 * 30_000 - 1, 5), [], 'window full: refresh')
  c.onRound('p', [probe(0, 5, 5)], 40_000) // 50x looser: a busy moment
  assert.deepEqual(c.due(['p'], 46_000, 5), ['p'])
  near(c.offset('p')?.min_rtt_ms, 0.2)
})
