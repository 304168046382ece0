import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createManualClock } from '@loadmesh/clock'
import type { Command } from '@loadmesh/protocol'
import { createMembership, createPlanStore, intervalAt, proposeEpochChange, scheduleFor } from '../src/index.ts'
import type { ScheduleInterval } from '../src/index.ts'
import { epochCmd, heartbeat, plan, planCmd } from './helpers.ts'

const T0 = 1_700_000_100_000
const PEERS = ['p1', 'p2', 'p3', 'p4', 'p5']

/** Rate of every peer at plan-relative `t`. */
function ratesAt(schedules: Map<string, ScheduleInterval[]>, t: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [peer, s] of schedules) out[peer] = intervalAt(s, t)?.rate ?? 0
  return out
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)

test('5 agents, one dies at t=10 s: from the next epoch the survivors carry the whole rate; a joiner gets a share from its epoch', () => {
  // Wall clock of the manual clock = T0 + monotonic ms, so "now" relative to the plan is clock.now().
  const clock = createManualClock(0, T0)
  const p = plan('r', [
    { duration_ms: 20_000, rate: 100, concurrency: 0 },
    { duration_ms: 20_000, rate: 0, concurrency: 10 }
  ])
  const store = createPlanStore({ clock })
  const membership = createMembership({ clock, selfId: 'p1' })
  store.adopt(planCmd(1, 'plan', p))
  let seq = 0
  const beat = (peers: string[]) => {
    seq++
    for (const id of peers) membership.onHeartbeat(heartbeat(id, seq, { weight: id === 'p3' ? 2 : 1 }))
  }
  const propose = (id: string): Command | null => {
    const e = proposeEpochChange({
      run_id: 'r',
      timeline: store.timeline('r'),
      live: membership.loadMembers(),
      nowRelMs: clock.now(),
      durationMs: 40_000
    })
    return e === null ? null : epochCmd(store.lamport.tick(), id, e)
  }

  beat(PEERS)
  const e0 = propose('e0') as Command
  store.adopt(e0)
  assert.equal(e0.body.type === 'epoch' && e0.body.epoch.start_ms, 2000)
  // Heartbeats every second; p5 falls silent after t = 10 s.
  for (let t = 1; t <= 10; t++) {
    clock.advanceTo(t * 1000)
    beat(PEERS)
  }
  for (let t = 11; t <= 16; t++) {
    clock.advanceTo(t * 1000)
    beat(PEERS.slice(0, 4))
    const c = propose(`e-${t}`)
    if (c !== null) store.adopt(c)
  }
  const timeline = store.timeline('r')
  // Dead at 15 s (5 s of silence); proposed then for the next aligned second at least 1.5 s ahead.
  assert.deepEqual(timeline.rebalances.map((r) => [r.epoch, r.start_ms, r.reason]), [
    [0, 2000, 'initial: 5 agents'],
    [1, 17_000, 'left: p5']
  ])
  const scheds = new Map(PEERS.map((id) => [id, scheduleFor(p, timeline, id)]))
  // Before epoch 0 starts nobody sends; weights 1,1,2,1,1 split 100 req/s as 16.7/16.7/33.3/16.7/16.7.
  assert.equal(sum(ratesAt(scheds, 1000)), 0)
  const before = ratesAt(scheds, 16_999)
  assert.ok(Math.abs(sum(before) - 100) < 1e-9)
  assert.ok(Math.abs(before.p3 - 100 / 3) < 1e-9)
  const after = ratesAt(scheds, 17_000)
  assert.equal(after.p5, 0)
  assert.ok(Math.abs(sum(after) - 100) < 1e-9, `total after the loss: ${sum(after)}`)
  assert.ok(Math.abs(after.p1 - 20) < 1e-9 && Math.abs(after.p3 - 40) < 1e-9)
  // The closed-loop stage splits 10 in flight over the survivors (weights 1,1,2,1): 2,2,4,2 (+0 for p5).
  const conc = Object.fromEntries(PEERS.map((id) => [id, intervalAt(scheds.get(id) as ScheduleInterval[], 25_000)?.concurrency]))
  assert.deepEqual(conc, { p1: 2, p2: 2, p3: 4, p4: 2, p5: 0 })
  // Every interval names the epoch and the seed label of the arrivals.
  assert.equal(intervalAt(scheds.get('p2') as ScheduleInterval[], 17_000)?.seed_label, 'arrivals:p2:epoch-1')
  assert.deepEqual((scheds.get('p1') as ScheduleInterval[]).map((s) => [s.from_ms, s.to_ms, s.stage, s.epoch]), [
    [0, 2000, 0, null],
    [2000, 17_000, 0, 0],
    [17_000, 20_000, 0, 1],
    [20_000, 40_000, 1, 1]
  ])

  // A new agent p6 appears at t = 22.3 s: it gets a share from the next epoch (24 s) on.
  clock.advanceTo(22_300)
  beat(['p1', 'p2', 'p3', 'p4', 'p6'])
  const c = propose('join') as Command
  store.adopt(c)
  const t2 = store.timeline('r')
  assert.deepEqual(t2.rebalances.at(-1)?.reason, 'joined: p6')
  assert.equal(t2.rebalances.at(-1)?.start_ms, 24_000)
  const s6 = scheduleFor(p, t2, 'p6')
  assert.equal(intervalAt(s6, 23_999)?.concurrency, 0)
  const all = ['p1', 'p2', 'p3', 'p4', 'p6'].map((id) => intervalAt(scheduleFor(p, t2, id), 24_000)?.concurrency ?? 0)
  // Ideal 10/6 = 1.67 each and 3.33 for p3: floors 1,1,3,1,1, the 3 left over go to the largest
  // remainders (.67), ties to the lower ids: p1, p2, p4.
  assert.deepEqual(all, [2, 2, 3, 2, 1])
  assert.equal(all.reduce((a, b) => a + b, 0), 10)
  membership.close()
})

test('the same plan and timeline give every peer a schedule whose rates add up to the plan in every interval', () => {
  const p = plan('r', [
    { duration_ms: 5000, rate: 7, concurrency: 0 },
    { duration_ms: 5000, rate: 0, concurrency: 0 },
    { duration_ms: 5000, rate: 333.3, concurrency: 0 }
  ])
  const timeline = [
    { epoch: 0, start_ms: 0, members: [{ peer_id: 'a', weight: 0.3 }, { peer_id: 'b', weight: 1.7 }], command: { id: 'x', lamport: 1, issuer: 'a' } },
    { epoch: 1, start_ms: 7000, members: [{ peer_id: 'b', weight: 1.7 }, { peer_id: 'c', weight: 4 }], command: { id: 'y', lamport: 2, issuer: 'b' } }
  ]
  const scheds = ['a', 'b', 'c'].map((id) => scheduleFor(p, timeline, id))
  for (const t of [0, 4999, 5000, 7000, 10_000, 14_999]) {
    const total = scheds.reduce((acc, s) => acc + (intervalAt(s, t)?.rate ?? 0), 0)
    const want = intervalAt(scheds[0], t)?.mesh_rate ?? 0
    assert.ok(Math.abs(total - want) < 1e-9, `t=${t}: ${total} vs ${want}`)
  }
  assert.equal(intervalAt(scheds[1], 6000)?.mode, 'idle')
  assert.equal(intervalAt(scheds[0], 15_000), null)
})
