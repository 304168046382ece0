import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createManualClock } from '@loadmesh/clock'
import type { Command } from '@loadmesh/protocol'
import { createLamportClock, createPlanStore } from '../src/index.ts'
import type { PlanStatus } from '../src/index.ts'
import { abortCmd, epochCmd, members, plan, planCmd, stopCmd } from './helpers.ts'

const T0 = 1_700_000_100_000
const stages = [{ duration_ms: 60_000, rate: 10, concurrency: 0 }]

function store(wallStart = T0 - 10_000) {
  // The manual clock's wall time starts at wallStart.
  return createPlanStore({ clock: createManualClock(0, wallStart), mesh: 'lab' })
}

function summary(s: PlanStatus | null) {
  if (s === null) return null
  return {
    run: s.run_id,
    cmd: s.command.id,
    state: s.state,
    stop: s.stop?.id ?? null,
    abort: s.abort?.id ?? null,
    epochs: s.epochs.epochs.map((e) => [e.epoch, e.command.id])
  }
}

test('the plan with the highest Lamport stamp wins; ties go to the higher command id', () => {
  const s = store()
  assert.equal(s.adopt(planCmd(5, 'b', plan('run-b', stages))).outcome, 'adopted')
  assert.equal(s.adopt(planCmd(4, 'z', plan('run-z', stages))).outcome, 'superseded')
  assert.equal(s.adopt(planCmd(5, 'a', plan('run-a', stages))).outcome, 'superseded')
  assert.equal(s.current()?.run_id, 'run-b')
  assert.equal(s.adopt(planCmd(5, 'c', plan('run-c', stages))).outcome, 'adopted')
  assert.equal(s.current()?.run_id, 'run-c')
  assert.equal(s.adopt(planCmd(5, 'c', plan('run-c', stages))).outcome, 'duplicate')
})

test('plan state follows the wall clock: pending, running, finished', () => {
  const s = store()
  s.adopt(planCmd(1, 'p', plan('r', stages, { start_wall_ms: T0 })))
  assert.equal(s.current(T0 - 1)?.state, 'pending')
  assert.equal(s.current(T0 - 1)?.elapsed_ms, -1)
  assert.equal(s.current(T0)?.state, 'running')
  assert.equal(s.current(T0 + 59_999)?.state, 'running')
  const done = s.current(T0 + 60_000)
  assert.equal(done?.state, 'finished')
  assert.equal(done?.end_wall_ms, T0 + 60_000)
  assert.equal(s.current()?.state, 'pending') // the clock's own wall time: 10 s before T0
})

test('a stop that arrives before its plan is kept and applies when the plan arrives', () => {
  const s = store()
  assert.equal(s.adopt(stopCmd(9, 's1', 'r')).outcome, 'recorded')
  assert.equal(s.current(), null)
  s.adopt(planCmd(3, 'p', plan('r', stages)))
  assert.equal(s.current(T0 + 1000)?.state, 'stopped')
  assert.equal(s.current()?.stop?.id, 's1')
})

test('stop and abort are idempotent; abort outranks stop; both only touch their run', () => {
  const s = store()
  s.adopt(planCmd(1, 'p', plan('r', stages)))
  s.adopt(stopCmd(2, 's', 'other-run'))
  assert.equal(s.current(T0 + 1)?.state, 'running')
  s.adopt(stopCmd(3, 's', 'r'))
  assert.equal(s.adopt(stopCmd(3, 's', 'r')).outcome, 'duplicate')
  assert.equal(s.current(T0 + 1)?.state, 'stopped')
  s.adopt(abortCmd(4, 'a', 'r', 'target on fire'))
  const st = s.current(T0 + 1)
  assert.equal(st?.state, 'aborted')
  assert.equal(st?.abort?.reason, 'target on fire')
})

test('commands for another mesh are ignored; every adopted stamp advances the Lamport clock', () => {
  const s = store()
  assert.equal(s.adopt({ ...planCmd(50, 'x', plan('r', stages)), mesh: 'other' }).outcome, 'wrong-mesh')
  assert.equal(s.current(), null)
  assert.equal(s.lamport.now(), 0)
  s.adopt(planCmd(7, 'p', plan('r', stages)))
  s.adopt(stopCmd(3, 's', 'zz'))
  assert.equal(s.lamport.now(), 7)
  // A command issued now outranks everything seen.
  assert.equal(s.lamport.tick(), 8)
})

test('Lamport clock: tick for local events, observe takes the max, bad stamps ignored', () => {
  const l = createLamportClock()
  assert.equal(l.tick(), 1)
  assert.equal(l.observe(10), 10)
  assert.equal(l.observe(4), 10)
  assert.equal(l.observe(Number.NaN), 10)
  assert.equal(l.tick(), 11)
})

test('plan, stop, abort and epoch resolution does not depend on arrival order or duplicates', () => {
  const p = (n: number, id: string, run: string) => planCmd(n, id, plan(run, stages))
  const pool: Command[] = [
    p(3, 'p-a', 'run-a'),
    p(7, 'p-b', 'run-b'),
    p(7, 'p-c', 'run-c'),
    p(2, 'p-d', 'run-d'),
    stopCmd(5, 's-b', 'run-b'),
    stopCmd(9, 's-c', 'run-c'),
    stopCmd(8, 's-c2', 'run-c'),
    abortCmd(12, 'a-a', 'run-a'),
    epochCmd(8, 'e1', { run_id: 'run-c', epoch: 0, start_ms: 0, members: members('p1', 'p2') }),
    epochCmd(9, 'e2', { run_id: 'run-c', epoch: 0, start_ms: 0, members: members('p1') }),
    epochCmd(9, 'e3', { run_id: 'run-c', epoch: 1, start_ms: 5000, members: members('p1', 'p3') })
  ]
  fc.assert(
    fc.property(
      fc.subarray(pool, { minLength: 1 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.nat(),
      (subset, dupes, seed) => {
        const msgs = [...subset, ...dupes.map((d) => subset[d % subset.length])]
        const shuffled = fc.sample(fc.shuffledSubarray(msgs, { minLength: msgs.length, maxLength: msgs.length }), { seed, numRuns: 1 })[0]
        const a = store()
        const b = store()
        for (const c of msgs) a.adopt(c)
        for (const c of shuffled) b.adopt(c)
        assert.deepEqual(summary(b.current(T0 + 1000)), summary(a.current(T0 + 1000)))
        assert.equal(b.lamport.now(), a.lamport.now())
        assert.deepEqual(b.commands().map((c) => c.id), a.commands().map((c) => c.id))
      }
    ),
    { seed: 20240501, numRuns: 300 }
  )
  // And the full set resolves to: run-c (stamp 7, id p-c > p-b), stopped by its earliest stop,
  // epoch 0 from e2 (stamp 9 beats 8), then epoch 1.
  const s = store()
  for (const c of pool) s.adopt(c)
  assert.deepEqual(summary(s.current(T0 + 1000)), {
    run: 'run-c',
    cmd: 'p-c',
    state: 'stopped',
    stop: 's-c2',
    abort: null,
    epochs: [
      [0, 'e2'],
      [1, 'e3']
    ]
  })
})

test('the oldest unknown runs are forgotten beyond maxRuns, never the current one', () => {
  const s = createPlanStore({ clock: createManualClock(0, T0), maxRuns: 2 })
  s.adopt(planCmd(1, 'p', plan('cur', stages)))
  s.adopt(stopCmd(2, 's-cur', 'cur'))
  s.adopt(stopCmd(3, 's-x', 'x'))
  s.adopt(stopCmd(4, 's-y', 'y'))
  assert.equal(s.current()?.state, 'stopped')
  assert.deepEqual(s.commands().map((c) => c.id), ['p', 's-cur', 's-y'])
})
