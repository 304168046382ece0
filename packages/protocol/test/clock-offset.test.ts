import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { clockSample, decodeEnvelope, encodeEnvelope } from '../src/index.ts'
import { heartbeat, rawEncode } from './fixtures.ts'

/**
 * We send a probe at t1 (our clock); the peer, whose clock is ours + offset, receives it after `up`
 * ms of network at t2, answers `held` ms later at t3, and the answer reaches us after `down` ms at t4.
 */
function exchange(offset: number, up: number, held: number, down: number): [number, number, number, number] {
  const t1 = 1_764_300_000_000
  const t2 = t1 + up + offset
  const t3 = t2 + held
  const t4 = t1 + up + held + down
  return [t1, t2, t3, t4]
}

test('symmetric delays give the exact offset and the round trip without the holding time', () => {
  assert.deepEqual(clockSample(...exchange(-2500.5, 3, 0.25, 3)), { offset_ms: -2500.5, rtt_ms: 6 })
})

test('with asymmetric delays the error stays within rtt / 2', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -3_600_000, max: 3_600_000 }),
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 0, max: 500 }),
      (offset, up, held, down) => {
        const s = clockSample(...exchange(offset, up, held, down))
        assert.ok(s !== null)
        assert.equal(s.rtt_ms, up + down)
        assert.ok(Math.abs(s.offset_ms - offset) <= s.rtt_ms / 2)
      }
    ),
    { seed: 9, numRuns: 500 }
  )
})

test('impossible samples (negative round trip or hold, non-finite times) are discarded', () => {
  const [t1, t2, t3] = exchange(0, 5, 1, 5)
  assert.equal(clockSample(t1, t2, t3, t1 - 100), null) // "received" before it was sent
  assert.equal(clockSample(t1, t3, t2, t1 + 20), null) // answered before it arrived
  assert.equal(clockSample(t1, Number.NaN, t3, t1 + 20), null)
  assert.equal(clockSample(t1, t2, Number.POSITIVE_INFINITY, t1 + 20), null)
})

test('v2 heartbeats carry no clock echo, and a v1 peer (which still sends them) is told to upgrade', () => {
  const got = decodeEnvelope(encodeEnvelope({ mesh: 'lab', body: { type: 'heartbeat', heartbeat: heartbeat() } }))
  assert.ok(got.ok && got.value.body.type === 'heartbeat')
  assert.equal('echo' in got.value.body.heartbeat, false)
  const v1 = decodeEnvelope(rawEncode('Envelope', { version: 1, mesh: 'lab', heartbeat: heartbeat() }))
  assert.equal(v1.ok, false)
  assert.ok(!v1.ok && v1.code === 'ERR_VERSION' && /version 1 is older than this peer's 2; the sender must upgrade/.test(v1.reason), JSON.stringify(v1))
})
