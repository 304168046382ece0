import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createClockOffsets } from '../src/index.ts'
import { heartbeat } from './helpers.ts'

/**
 * Simulates one exchange: we send at our wall time `t1`; the peer (clock `offset` ms ahead of ours)
 * receives it after `up` ms, holds it `held` ms, and its heartbeat reaches us `down` ms later.
 */
function exchange(seq: number, t1: number, offset: number, up: number, held: number, down: number) {
  const t2 = t1 + up + offset // their clock
  const t3 = t2 + held
  const t4 = t1 + up + held + down // our clock
  const hb = heartbeat('peer', seq, { wall_ms: t3, echo: [{ peer_id: 'me', seq: seq, wall_ms: t1, held_ms: held }] })
  return { hb, t4 }
}

test('offset is the median of the last N samples; the best sample is the one with the smallest round trip', () => {
  const c = createClockOffsets({ selfId: 'me', window: 5 })
  // True offset +250 ms; symmetric paths give exact samples, asymmetric ones err by (up - down) / 2.
  const trips: Array<[number, number]> = [[5, 5], [40, 2], [6, 6], [3, 3], [2, 60], [4, 4], [5, 5]]
  trips.forEach(([up, down], i) => {
    const { hb, t4 } = exchange(i + 1, 1_000_000 + i * 1000, 250, up, 20, down)
    const s = c.onHeartbeat(hb, t4)
    assert.ok(s !== null)
    assert.equal(s.rtt_ms, up + down)
  })
  const o = c.offset('peer')
  assert.ok(o !== null)
  // The last 5 samples: errors (6-6)/2=0, 0, (2-60)/2=-29, 0, 0: the median ignores the outlier.
  assert.equal(o.samples, 5)
  assert.equal(o.offset_ms, 250)
  assert.equal(o.min_rtt_ms, 6)
  assert.equal(o.best_offset_ms, 250)
  assert.deepEqual(c.all().map((x) => x.peer_id), ['peer'])
})

test('heartbeats without an echo for us, impossible samples and repeated heartbeats are not samples', () => {
  const c = createClockOffsets({ selfId: 'me' })
  assert.equal(c.onHeartbeat(heartbeat('peer', 1), 1000), null)
  const { hb, t4 } = exchange(2, 1000, 0, 5, 10, 5)
  // Received "before" it was sent: a stepped clock or a forged echo.
  assert.equal(c.onHeartbeat(hb, 1000), null)
  assert.equal(c.offset('peer'), null)
  const { hb: hb3, t4: t43 } = exchange(3, 1000, 0, 5, 10, 5)
  assert.notEqual(c.onHeartbeat(hb3, t43), null)
  assert.equal(c.onHeartbeat(hb3, t43), null)
  assert.equal(c.offset('peer')?.samples, 1)
  assert.equal(c.onHeartbeat({ ...hb, peer_id: 'me' }, t4), null)
  c.forget('peer')
  assert.equal(c.offset('peer'), null)
})
