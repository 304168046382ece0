import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getHeapSpaceStatistics } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createManualClock } from '@loadmesh/clock'
import type { Clock } from '@loadmesh/clock'
import { createIdleWork, runOpenLoop, settleHeap } from '../src/index.ts'
import { flush } from './helpers/loop-harness.ts'

/**
 * A manual clock whose time also moves while a job "works" (`work(ms)`), as a busy thread's would,
 * and that counts the turns of the event loop its callbacks run in.
 */
function busyClock(): { clock: Clock; base: ReturnType<typeof createManualClock>; work: (ms: number) => void; turn: () => number } {
  const base = createManualClock(0)
  let busy = 0
  let turn = 0
  const wrap = (fn: () => void) => () => { turn++; fn() }
  const clock: Clock = {
    ...base,
    now: () => base.now() + busy,
    setTimer: (fn, ms) => base.setTimer(wrap(fn), ms),
    setImmediate: (fn) => base.setImmediate(wrap(fn))
  }
  return { clock, base, work: (ms) => { busy += ms }, turn: () => turn }
}

test('a deferred job runs only when its expected cost fits in the slack before the next due send, oldest first', () => {
  const clock = createManualClock(0)
  const idle = createIdleWork(clock, { marginMs: 0.25 })
  let slack = 1
  idle.setSlack(() => slack)
  const ran: string[] = []
  idle.defer(() => ran.push('cheap-1'))
  idle.defer(() => ran.push('window turn'), 3)
  idle.defer(() => ran.push('cheap-2'))
  idle.drain()
  // 0.05 + 0.25 fits in 1 ms; 3 ms does not, and what was queued after it waits behind it.
  assert.deepEqual(ran, ['cheap-1'])
  assert.equal(idle.pending, 2)
  slack = 3.1
  idle.drain()
  assert.deepEqual(ran, ['cheap-1'], '3 ms + margin does not fit in 3.1 ms')
  slack = 10
  idle.drain()
  assert.deepEqual(ran, ['cheap-1', 'window turn', 'cheap-2'])
  assert.equal(idle.pending, 0)
  idle.close()
})

test('without a scheduler jobs run on the next turn; a job never waits longer than maxDelayMs for slack', () => {
  const clock = createManualClock(0)
  const idle = createIdleWork(clock, { maxDelayMs: 100 })
  const ran: number[] = []
  idle.defer(() => ran.push(clock.now()))
  assert.equal(ran.length, 0, 'never synchronously')
  clock.advance(0)
  assert.deepEqual(ran, [0])

  // A scheduler that never has slack (a rate too high for any): the job runs when it is overdue.
  idle.setSlack(() => 0)
  clock.advance(10)
  idle.defer(() => ran.push(clock.now()))
  clock.advance(99)
  idle.drain()
  assert.deepEqual(ran, [0], 'not overdue yet')
  clock.advance(1)
  assert.deepEqual(ran, [0, 110], 'runs exactly at its deadline, from the queue\'s own wake-up')
  idle.close()
})

test('overdue jobs without slack run in short turns, so due sends get the thread in between', () => {
  const { clock, base, work, turn } = busyClock()
  const idle = createIdleWork(clock, { maxDelayMs: 50, forcedTurnMs: 0.5 })
  idle.setSlack(() => 0)
  const perTurn = new Map<number, number>()
  for (let i = 0; i < 20; i++) {
    idle.defer(() => {
      perTurn.set(turn(), (perTurn.get(turn()) ?? 0) + 1)
      // Each job takes 0.2 ms of the thread's time.
      work(0.2)
    })
  }
  base.advance(49)
  assert.equal(perTurn.size, 0, 'nothing runs before the jobs are overdue')
  base.advance(1)
  assert.equal(idle.pending, 0)
  const counts = [...perTurn.values()]
  // 0.5 ms per turn at 0.2 ms per job: at most 3 jobs (the third starts before the budget is spent).
  assert.ok(counts.length >= 7, `20 jobs in ${counts.length} turns: ${counts.join(',')}`)
  assert.ok(counts.every((n) => n <= 3), `jobs per turn: ${counts.join(',')}`)
  idle.close()
})

test('flush runs every job in order and then throws the first error a job threw', () => {
  const clock = createManualClock(0)
  const idle = createIdleWork(clock)
  idle.setSlack(() => 0)
  const ran: number[] = []
  idle.defer(() => ran.push(1))
  idle.defer(() => { throw new Error('recorder broke') })
  idle.defer(() => ran.push(3))
  idle.defer(() => { throw new Error('second failure') })
  assert.throws(() => idle.flush(), /recorder broke/)
  assert.deepEqual(ran, [1, 3])
  assert.equal(idle.pending, 0)
  idle.flush()
  idle.close()
})

test('the open loop runs deferred work only in gaps long enough for it, and right after the sends before such a gap', async () => {
  const clock = createManualClock(0)
  const idle = createIdleWork(clock, { maxDelayMs: 1000 })
  // 1 ms gaps, except one 10 ms gap after the 20th request.
  let k = 0
  const nextGapMs = (): number => (++k === 21 ? 10 : 1)
  const sends: number[] = []
  let jobAt = Number.NaN
  const loop = runOpenLoop({
    clock,
    startAt: 0,
    durationMs: 60,
    maxInFlight: 100,
    nextGapMs,
    idle,
    fire: async (t) => {
      sends.push(t)
      // The first send queues a 3 ms job (say, a window turn of the recorder).
      if (sends.length === 1) idle.defer(() => { jobAt = clock.now() }, 3)
    }
  })
  for (let t = 0; t < 70; t += 0.5) { clock.advance(0.5); await flush() }
  await loop
  // The 20th request is due at 20 ms and the 21st at 30 ms: the job runs right after the 20th send.
  assert.equal(sends[19], 20)
  assert.equal(sends[20], 30)
  assert.equal(jobAt, 20)
  for (const [i, t] of sends.entries()) assert.equal(t, i < 20 ? i + 1 : i + 10)
  idle.close()
})

test('settleHeap empties the young generation and leaves no gc global behind', () => {
  const keep: object[] = []
  for (let i = 0; i < 50_000; i++) keep.push({ i, s: `x${i}` })
  const young = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0
  assert.ok(young() > 1_000_000, `setup survivors in the young generation: ${young()} bytes`)
  assert.equal(settleHeap(), true)
  const after = young()
  // What remains is the few objects allocated since (the statistics themselves).
  assert.ok(after < 256 * 1024, `young generation after settling: ${after} bytes`)
  assert.equal(keep.length, 50_000)
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined')
  assert.equal(runInNewContext('typeof gc'), 'undefined', 'new contexts do not get gc either')
})

test('once the scheduler stops, waiting jobs run on the next turn instead of at their age limit', () => {
  const clock = createManualClock(0)
  const idle = createIdleWork(clock, { maxDelayMs: 500 })
  let slack = 0.1
  idle.setSlack(() => slack)
  const ran: number[] = []
  idle.defer(() => ran.push(clock.now()))
  clock.advance(1)
  idle.drain()
  assert.equal(ran.length, 0)
  // The loop has sent its last request and only waits for responses: the slack is unlimited.
  slack = Number.POSITIVE_INFINITY
  idle.defer(() => ran.push(clock.now()))
  clock.advance(0)
  assert.deepEqual(ran, [1, 1])
  idle.close()
})
