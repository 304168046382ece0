import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { clockSample, decodeEnvelope, encodeEnvelope } from '../src/index.ts'
import type { ClockEcho, Heartbeat } from '../src/index.ts'
import { PEER_A, PEER_B, heartbeat } from './fixtures.ts'

/**
 * A sends at t1 (A's clock); B, whose clock is A's + offset, receives after `up` ms of network,
 * holds it `held` ms, sends its heartbeat carrying the echo, which reaches A after `down` ms.
 */
function exchange(offset: number, up: number, held: number, down: number) {
  const t1 = 1_764_300_000_000
  const t2 = t1 + up + offset
  const t3 = t2 + held
  const t4 = t1 + up + held + down
  const echo: ClockEcho = { peer_id: PEER_A, seq: 7, wall_ms: t1, held_ms: held }
  return { echo, t3, t4 }
}

test('symmetric delays give the exact offset and the round trip without the holding time', () => {
  const { echo, t3, t4 } = exchange(-2500.5, 3, 800, 3)
  assert.deepEqual(clockSample(echo, t3, t4), { offset_ms: -2500.5, rtt_ms: 6 })
})

test('with asymmetric delays the error stays within rtt / 2', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -3_600_000, max: 3_600_000 }),
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 0, max: 500 }),
      (offset, up, held, down) => {
        const { echo, t3, t4 } = exchange(offset, up, held, down)
        const s = clockSample(echo, t3, t4)
        assert.ok(s !== null)
        assert.equal(s.rtt_ms, up + down)
        assert.ok(Math.abs(s.offset_ms - offset) <= s.rtt_ms / 2)
      }
    ),
    { seed: 9, numRuns: 500 }
  )
})

test('an impossible sample (negative round trip) is discarded', () => {
  const { echo, t3 } = exchange(0, 5, 800, 5)
  assert.equal(clockSample(echo, t3, echo.wall_ms + 100), null) // "received" before the other peer could have sent
})

test('the echo travels in a heartbeat unchanged, so the sample is the same at the receiver', () => {
  const { echo, t3, t4 } = exchange(1234.25, 4.5, 612.75, 7.5)
  const sent: Heartbeat = heartbeat({ peer_id: PEER_B, wall_ms: t3, echo: [echo] })
  const got = decodeEnvelope(encodeEnvelope({ mesh: 'lab', body: { type: 'heartbeat', heartbeat: sent } }))
  assert.ok(got.ok && got.value.body.type === 'heartbeat')
  const hb = got.value.body.heartbeat
  const mine = hb.echo.find((e) => e.peer_id === PEER_A)
  assert.ok(mine !== undefined)
  assert.deepEqual(clockSample(mine, hb.wall_ms, t4), clockSample(echo, t3, t4))
})
