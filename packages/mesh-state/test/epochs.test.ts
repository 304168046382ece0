import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createManualClock } from '@loadmesh/clock'
import type { Command } from '@loadmesh/protocol'
import { createPlanStore, epochAt, epochLeadMs, nextEpochStart, proposeEpochChange, resolveEpochs } from '../src/index.ts'
import { epochCmd, members } from './helpers.ts'

test('nextEpochStart: the first multiple of alignMs at least marginMs ahead', () => {
  assert.equal(nextEpochStart(10_000), 12_000)
  assert.equal(nextEpochStart(10_500), 12_000)
  assert.equal(nextEpochStart(10_501), 13_000)
  assert.equal(nextEpochStart(0, 1000, 0), 0)
  assert.equal(nextEpochStart(3, 5000, 0), 5000)
  assert.equal(Object.is(nextEpochStart(-2000), 0), true) // not -0
  assert.throws(() => nextEpochStart(1, 0), { code: 'ERR_BAD_ARGUMENT' })
})

test('two peers proposing different epoch changes converge on the same timeline', () => {
  // p1 and p2 both see p5 die at t = 10.2 s and propose epoch 1, each at its own Lamport stamp and
  // with its own view (p2 has also just seen p6 join).
  const e0 = epochCmd(1, 'e0', { run_id: 'r', epoch: 0, start_ms: 0, members: members('p1', 'p2', 'p3', 'p4', 'p5') }, 'ctl')
  const fromP1 = proposeEpochChange({ run_id: 'r', timeline: resolveEpochs('r', [e0]), live: members('p1', 'p2', 'p3', 'p4'), nowRelMs: 10_200 })
  const fromP2 = proposeEpochChange({ run_id: 'r', timeline: resolveEpochs('r', [e0]), live: members('p4', 'p3', 'p2', 'p1', 'p6'), nowRelMs: 10_700 })
  assert.deepEqual(fromP1, { run_id: 'r', epoch: 1, start_ms: 12_000, members: members('p1', 'p2', 'p3', 'p4') })
  assert.equal(fromP2?.epoch, 1)
  assert.equal(fromP2?.start_ms, 13_000)
  const c1 = epochCmd(2, 'p1-1', fromP1 as NonNullable<typeof fromP1>, 'p1')
  const c2 = epochCmd(2, 'p2-1', fromP2 as NonNullable<typeof fromP2>, 'p2')
  // p1 hears its own first, p2 its own first, a third peer gets them duplicated: all agree.
  const views = [[e0, c1, c2], [c2, e0, c1, c2], [c1, c1, c2, e0, e0]].map((msgs) => {
    const s = createPlanStore({ clock: createManualClock() })
    for (const m of msgs) s.adopt(m)
    return s.timeline('r')
  })
  for (const v of views) assert.deepEqual(v, views[0])
  // Same stamp: the higher id wins (p2-1). Resolving the raw set also names the loser (the store
  // keeps only winners).
  assert.deepEqual(views[0].epochs.map((e) => [e.epoch, e.start_ms, e.command.id]), [[0, 0, 'e0'], [1, 13_000, 'p2-1']])
  assert.deepEqual(resolveEpochs('r', [c1, e0, c2, c1]).discarded.map((d) => [d.command.id, d.why]), [['p1-1', 'lost']])
  assert.deepEqual(resolveEpochs('r', [c1, e0, c2, c1]).epochs, views[0].epochs)
  assert.deepEqual(views[0].rebalances.map((r) => r.reason), ['initial: 5 agents', 'left: p5; joined: p6'])
  // Now that everyone holds epoch 1 with the live set, nobody proposes again.
  assert.equal(proposeEpochChange({ run_id: 'r', timeline: views[0], live: members('p1', 'p2', 'p3', 'p4', 'p6'), nowRelMs: 11_000 }), null)
})

test('any set of proposals, in any order and with duplicates, resolves to one timeline', () => {
  const proposal = fc.record({
    epoch: fc.integer({ min: 0, max: 4 }),
    lamport: fc.integer({ min: 1, max: 6 }),
    id: fc.constantFrom('a', 'b', 'c', 'd'),
    start: fc.integer({ min: 0, max: 8 }).map((k) => k * 1000),
    peers: fc.subarray(['p1', 'p2', 'p3', 'p4'], { minLength: 1 })
  })
  fc.assert(
    fc.property(fc.array(proposal, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 5 }), (ps, dupes) => {
      const cmds: Command[] = ps.map((p) => epochCmd(p.lamport, `${p.id}`, { run_id: 'r', epoch: p.epoch, start_ms: p.start, members: members(...p.peers) }))
      const withDupes = [...cmds, ...dupes.map((d) => cmds[d % cmds.length])]
      const a = resolveEpochs('r', cmds)
      const b = resolveEpochs('r', [...withDupes].reverse())
      assert.deepEqual(b.epochs, a.epochs)
      assert.deepEqual(b.rebalances, a.rebalances)
      // The effective timeline starts strictly later at each epoch.
      for (let i = 1; i < a.epochs.length; i++) {
        assert.ok(a.epochs[i].epoch > a.epochs[i - 1].epoch && a.epochs[i].start_ms > a.epochs[i - 1].start_ms)
      }
      // The highest epoch number always takes effect, from its winner.
      const top = Math.max(...ps.map((p) => p.epoch))
      assert.equal(a.latest?.epoch, top)
    }),
    { seed: 99, numRuns: 400 }
  )
})

test('an epoch overtaken by a later one starting no later never takes effect', () => {
  const t = resolveEpochs('r', [
    epochCmd(1, 'a', { run_id: 'r', epoch: 0, start_ms: 0, members: members('p1', 'p2') }),
    epochCmd(2, 'b', { run_id: 'r', epoch: 1, start_ms: 13_000, members: members('p1') }),
    epochCmd(3, 'c', { run_id: 'r', epoch: 2, start_ms: 13_000, members: members('p1', 'p3') }),
    epochCmd(3, 'd', { run_id: 'other', epoch: 7, start_ms: 1000, members: members('p9') })
  ])
  assert.deepEqual(t.epochs.map((e) => e.epoch), [0, 2])
  assert.deepEqual(t.discarded.map((d) => [d.epoch, d.why]), [[1, 'overtaken']])
  assert.equal(epochAt(t, 12_999)?.epoch, 0)
  assert.equal(epochAt(t, 13_000)?.epoch, 2)
  assert.equal(epochAt(t, -1), null)
  assert.deepEqual(t.rebalances[1], {
    epoch: 2,
    start_ms: 13_000,
    members: members('p1', 'p3'),
    joined: ['p3'],
    left: ['p2'],
    reweighted: [],
    reason: 'left: p2; joined: p3',
    command: { id: 'c', lamport: 3, issuer: 'p1' }
  })
})

test('proposals: epoch 0 at T0 when there is time, nothing without live agents or after the end, weight changes count', () => {
  const empty = resolveEpochs('r', [])
  assert.deepEqual(proposeEpochChange({ run_id: 'r', timeline: empty, live: members('b', 'a'), nowRelMs: -5000 }), {
    run_id: 'r',
    epoch: 0,
    start_ms: 0,
    members: members('a', 'b')
  })
  assert.equal(proposeEpochChange({ run_id: 'r', timeline: empty, live: [], nowRelMs: 0 }), null)
  assert.equal(proposeEpochChange({ run_id: 'r', timeline: empty, live: members('a'), nowRelMs: 59_000, durationMs: 60_000 }), null)
  const t = resolveEpochs('r', [epochCmd(1, 'x', { run_id: 'r', epoch: 0, start_ms: 0, members: members('a') })])
  const heavier = proposeEpochChange({ run_id: 'r', timeline: t, live: [{ peer_id: 'a', weight: 2 }], nowRelMs: 1000 })
  assert.equal(heavier?.epoch, 1)
  const t2 = resolveEpochs('r', [
    epochCmd(1, 'x', { run_id: 'r', epoch: 0, start_ms: 0, members: members('a') }),
    epochCmd(2, 'y', heavier as NonNullable<typeof heavier>)
  ])
  assert.equal(t2.rebalances[1].reason, 'weight changed: a')
})

test('a loss starts the next epoch at the agreed death time, so concurrent survivors propose the same start', () => {
  const e0 = resolveEpochs('r', [epochCmd(1, 'e0', { run_id: 'r', epoch: 0, start_ms: 0, members: members('p1', 'p2', 'p3') }, 'ctl')])
  // p3's last heartbeat said T0 + 9 870 ms; dead after 1 500 ms: dead at 11 370 for everyone. p1
  // notices at 11 374, p2 at 11 391 (gossip and timers differ): both propose 11 370 exactly.
  const common = { run_id: 'r', timeline: e0, live: members('p1', 'p2'), alignMs: 250, marginMs: 100, agreedDeathMs: 11_370 }
  const fromP1 = proposeEpochChange({ ...common, nowRelMs: 11_374 })
  const fromP2 = proposeEpochChange({ ...common, nowRelMs: 11_391 })
  assert.deepEqual(fromP1, { run_id: 'r', epoch: 1, start_ms: 11_370, members: members('p1', 'p2') })
  assert.deepEqual(fromP2, fromP1)
  // Without an agreed time: the next heartbeat boundary at least the lead ahead.
  assert.equal(proposeEpochChange({ ...common, agreedDeathMs: undefined, nowRelMs: 11_374 })?.start_ms, 11_500)
  // A stale agreed time (the proposer was busy) is not started in the past: next boundary instead.
  assert.equal(proposeEpochChange({ ...common, nowRelMs: 11_700 })?.start_ms, 12_000)
  // Far ahead (the dead peer's clock ran fast) is never later than the plain next start.
  assert.equal(proposeEpochChange({ ...common, agreedDeathMs: 60_000, nowRelMs: 11_374 })?.start_ms, 11_500)
  // A join is not a loss: the joiner needs the lead to hear the proposal before it applies.
  assert.equal(proposeEpochChange({ ...common, live: members('p1', 'p2', 'p4'), nowRelMs: 11_374 })?.start_ms, 11_500)
  assert.equal(proposeEpochChange({ ...common, live: [{ peer_id: 'p1', weight: 2 }, ...members('p2')], nowRelMs: 11_374 })?.start_ms, 11_500)
})

test('epochLeadMs: twice the worst offset plus round trip, between a floor and the old fixed margin', () => {
  const o = (offset_ms: number, rtt_ms: number) => ({ peer_id: 'p', offset_ms, rtt_ms, best_offset_ms: offset_ms, min_rtt_ms: rtt_ms, samples: 8 })
  assert.equal(epochLeadMs([]), 100)
  assert.equal(epochLeadMs([o(0.3, 4), o(-0.5, 9)]), 100)
  assert.equal(epochLeadMs([o(-40, 30), o(10, 60)]), 200)
  assert.equal(epochLeadMs([o(5000, 10)]), 1500)
  assert.equal(epochLeadMs([o(Number.NaN, 20)], { floorMs: 10 }), 40)
})
