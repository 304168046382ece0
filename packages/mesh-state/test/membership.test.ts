import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createManualClock } from '@loadmesh/clock'
import { createMembership } from '../src/index.ts'
import type { MembershipChange } from '../src/index.ts'
import { heartbeat } from './helpers.ts'

function setup() {
  const clock = createManualClock()
  const m = createMembership({ clock, selfId: 'self' })
  const changes: MembershipChange[] = []
  m.onChange((c) => changes.push(c))
  return { clock, m, changes }
}

const stateOf = (m: ReturnType<typeof setup>['m'], id: string) => m.member(id)?.state

test('a silent peer goes alive -> suspect at 3 s -> dead at 5 s, and listeners hear it on time', () => {
  const { clock, m, changes } = setup()
  assert.equal(m.onHeartbeat(heartbeat('p1', 1)), 'new')
  assert.equal(stateOf(m, 'p1'), 'alive')
  clock.advance(2999)
  assert.equal(stateOf(m, 'p1'), 'alive')
  clock.advance(1)
  assert.equal(stateOf(m, 'p1'), 'suspect')
  clock.advance(1999)
  assert.equal(stateOf(m, 'p1'), 'suspect')
  clock.advance(1)
  assert.equal(stateOf(m, 'p1'), 'dead')
  // The timer drove the transitions: the listener saw them at the exact times, without polling.
  assert.deepEqual(
    changes.map((c) => [c.previous?.state ?? null, c.current.state, c.at_ms]),
    [
      [null, 'alive', 0],
      ['alive', 'suspect', 3000],
      ['suspect', 'dead', 5000]
    ]
  )
  assert.equal(m.members()[0].silent_ms, 5000)
})

test('a suspect is still live; a dead peer is not; a heartbeat revives either', () => {
  const { clock, m } = setup()
  m.onHeartbeat(heartbeat('p1', 1))
  m.onHeartbeat(heartbeat('p2', 1))
  clock.advance(3500)
  m.onHeartbeat(heartbeat('p2', 2))
  assert.deepEqual(
    m.live().map((v) => [v.peer_id, v.state]),
    [
      ['p1', 'suspect'],
      ['p2', 'alive']
    ]
  )
  clock.advance(2000)
  assert.deepEqual(m.live().map((v) => v.peer_id), ['p2'])
  assert.deepEqual(m.members().map((v) => [v.peer_id, v.state]), [['p1', 'dead'], ['p2', 'alive']])
  assert.equal(m.onHeartbeat(heartbeat('p1', 2)), 'accepted')
  assert.equal(stateOf(m, 'p1'), 'alive')
  assert.deepEqual(m.live().map((v) => v.peer_id), ['p1', 'p2'])
})

test('replayed or old heartbeats (seq not above the last) are ignored and do not keep a peer alive', () => {
  const { clock, m } = setup()
  m.onHeartbeat(heartbeat('p1', 5, { achieved_rate: 50 }))
  clock.advance(4000)
  assert.equal(m.onHeartbeat(heartbeat('p1', 5, { achieved_rate: 99 })), 'replay')
  assert.equal(m.onHeartbeat(heartbeat('p1', 3)), 'replay')
  assert.equal(m.member('p1')?.heartbeat.achieved_rate, 50)
  clock.advance(1000)
  assert.equal(stateOf(m, 'p1'), 'dead')
  // Even once dead, a replay (same or older wall clock) does not revive it.
  assert.equal(m.onHeartbeat(heartbeat('p1', 4)), 'replay')
  assert.equal(stateOf(m, 'p1'), 'dead')
  assert.deepEqual(m.stats(), { accepted: 1, replays: 3, restarts: 0 })
})

test('a dead peer whose process restarted (seq from 1 again, later wall clock) is accepted as a restart', () => {
  const { clock, m } = setup()
  m.onHeartbeat(heartbeat('p1', 40))
  clock.advance(6000)
  assert.equal(m.onHeartbeat(heartbeat('p1', 1, { wall_ms: 1_700_000_000_000 + 41_000 + 6000 })), 'restart')
  const v = m.member('p1')
  assert.equal(v?.state, 'alive')
  assert.equal(v?.restarts, 1)
  assert.equal(m.onHeartbeat(heartbeat('p1', 2, { wall_ms: 1_700_000_048_000 })), 'accepted')
  // A replayed heartbeat of the previous incarnation has a higher seq but an old wall clock.
  assert.equal(m.onHeartbeat(heartbeat('p1', 39)), 'replay')
  assert.equal(m.onHeartbeat(heartbeat('p1', 3, { wall_ms: 1_700_000_049_000 })), 'accepted')
  assert.equal(m.member('p1')?.heartbeat.seq, 3)
})

test('a degraded agent stays alive and keeps its load share; the flag change is reported', () => {
  const { clock, m, changes } = setup()
  m.onHeartbeat(heartbeat('p1', 1))
  clock.advance(1000)
  m.onHeartbeat(heartbeat('p1', 2, { degraded: true }))
  const v = m.member('p1')
  assert.equal(v?.state, 'alive')
  assert.equal(v?.degraded, true)
  assert.deepEqual(m.loadMembers(), [{ peer_id: 'p1', weight: 1 }])
  assert.deepEqual(changes.map((c) => [c.current.state, c.current.degraded]), [['alive', false], ['alive', true]])
})

test('controllers are members but carry no load; members are sorted by peer id', () => {
  const { m } = setup()
  m.onHeartbeat(heartbeat('zeta', 1, { weight: 2 }))
  m.onHeartbeat(heartbeat('ctl', 1, { role: 'controller' }))
  m.onHeartbeat(heartbeat('alpha', 1, { weight: 3 }))
  assert.deepEqual(m.members().map((v) => [v.peer_id, v.role]), [['alpha', 'agent'], ['ctl', 'controller'], ['zeta', 'agent']])
  assert.deepEqual(m.loadMembers(), [
    { peer_id: 'alpha', weight: 3 },
    { peer_id: 'zeta', weight: 2 }
  ])
})

test('the local peer never goes suspect or dead', () => {
  const { clock, m } = setup()
  m.onHeartbeat(heartbeat('self', 1))
  clock.advance(60_000)
  const v = m.member('self')
  assert.equal(v?.state, 'alive')
  assert.equal(v?.self, true)
})

test('an unsubscribed listener hears nothing; close() stops the timer', () => {
  const { clock, m } = setup()
  const seen: string[] = []
  const off = m.onChange((c) => seen.push(c.current.state))
  m.onHeartbeat(heartbeat('p1', 1))
  off()
  clock.advance(10_000)
  assert.deepEqual(seen, ['alive'])
  m.onHeartbeat(heartbeat('p2', 1))
  m.close()
  assert.equal(clock.pending(), 0)
})

test('options are checked', () => {
  const clock = createManualClock()
  assert.throws(() => createMembership({ clock, selfId: 'a', suspectAfterMs: 5000, deadAfterMs: 3000 }), { code: 'ERR_BAD_ARGUMENT' })
  assert.throws(() => createMembership({ clock, selfId: '' }), { code: 'ERR_BAD_ARGUMENT' })
})
