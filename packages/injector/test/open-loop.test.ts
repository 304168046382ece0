import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock, systemClock } from '@loadmesh/clock'
import { runOpenLoop, ScheduleError } from '../src/index.ts'
import type { LoopResult } from '../src/index.ts'
import { advanceInSteps, coarseClock, flush, heldFire, seeded } from './helpers/loop-harness.ts'

function exponentialGaps(seed: number, meanMs: number): { next: () => number; drawn: number[] } {
  const rnd = seeded(seed)
  const drawn: number[] = []
  return { drawn, next: () => { const g = -Math.log(1 - rnd()) * meanMs; drawn.push(g); return g } }
}

function track(p: Promise<LoopResult>): { done: () => boolean; result: Promise<LoopResult> } {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  return { done: () => done, result: p }
}

test('intended times are startAt + cumulative gaps, and each request fires at its intended time', async () => {
  const clock = createManualClock(1000)
  const gaps = exponentialGaps(42, 5)
  const fired: Array<[number, number]> = []
  const loop = runOpenLoop({
    clock, startAt: 1000, durationMs: 500, maxInFlight: 1000, nextGapMs: gaps.next,
    fire: async (t) => { fired.push([t, clock.now()]) }
  })
  await advanceInSteps(clock, 500, 0.7)
  const res = await loop
  let t = 1000
  const expected: number[] = []
  for (const g of gaps.drawn) { t += g; if (t < 1500) expected.push(t) }
  assert.ok(expected.length > 80, `a 5 ms mean over 500 ms gives ~100 requests, got ${expected.length}`)
  assert.deepEqual(fired.map(([i]) => i), expected)
  // Under a manual clock nothing is late: the waker lands exactly on every due time.
  for (const [intended, at] of fired) assert.equal(at, intended)
  assert.deepEqual(res, { scheduled: expected.length, fired: expected.length, dropped: 0 })
})

test('a late wake-up fires every due request, each with its own intended time, without drift', async () => {
  const base = createManualClock(0)
  const clock = coarseClock(base, 20)
  const fired: Array<[number, number]> = []
  const loop = runOpenLoop({
    clock, startAt: 0, durationMs: 200, maxInFlight: 1000, nextGapMs: () => 3,
    fire: async (t) => { fired.push([t, clock.now()]) }
  })
  await advanceInSteps(base, 200, 1)
  const res = await loop
  assert.deepEqual(fired.map(([i]) => i), Array.from({ length: 66 }, (_, k) => 3 * (k + 1)))
  for (const [intended, at] of fired) {
    assert.ok(at >= intended && at - intended < 20, `fired at ${at} for ${intended}`)
  }
  // Several requests share one late wake-up (e.g. 42..60 all fire at 60).
  assert.ok(fired.filter(([, at]) => at === 60).length >= 6)
  assert.equal(res.fired, 66)
})

test('at the in-flight cap a due request is dropped and counted, never delayed', async () => {
  const clock = createManualClock(0)
  const h = heldFire(clock)
  const dropped: number[] = []
  const scheduled: number[] = []
  const loop = track(runOpenLoop({
    clock, startAt: 0, durationMs: 100, maxInFlight: 2, nextGapMs: () => 10, fire: h.fire,
    onDropped: (t) => dropped.push(t), onScheduled: (t) => scheduled.push(t)
  }))
  await advanceInSteps(clock, 35, 1)
  assert.deepEqual(h.fired.map((r) => r.intendedAt), [10, 20])
  assert.deepEqual(dropped, [30])
  h.fired[0].settle()
  await advanceInSteps(clock, 10, 1)
  // The request due at 40 goes out at 40; the dropped one at 30 is not sent late.
  assert.deepEqual(h.fired.map((r) => [r.intendedAt, r.firedAt]), [[10, 10], [20, 20], [40, 40]])
  for (const r of h.fired) r.settle()
  await advanceInSteps(clock, 60, 1)
  for (const r of h.fired) r.settle()
  await flush()
  const res = await loop.result
  assert.equal(res.scheduled, 9)
  assert.equal(res.fired + res.dropped, 9)
  assert.equal(res.dropped, dropped.length)
  assert.deepEqual(scheduled, [10, 20, 30, 40, 50, 60, 70, 80, 90])
})

test('the loop lasts its duration and then waits for in-flight requests', async () => {
  const clock = createManualClock(0)
  const h = heldFire(clock)
  const loop = track(runOpenLoop({ clock, startAt: 0, durationMs: 100, maxInFlight: 100, nextGapMs: () => 10, fire: h.fire }))
  await advanceInSteps(clock, 99, 1)
  for (const r of h.fired) r.settle()
  await flush()
  assert.equal(loop.done(), false, 'must not end before the duration')
  assert.deepEqual(h.fired.map((r) => r.intendedAt), [10, 20, 30, 40, 50, 60, 70, 80, 90])
  await advanceInSteps(clock, 1, 1)
  assert.equal(loop.done(), true)
  assert.equal(h.fired.length, 9, 'nothing fired at or after startAt + durationMs')
})

test('a request still in flight at the end of the duration holds the loop open', async () => {
  const clock = createManualClock(0)
  const h = heldFire(clock)
  const loop = track(runOpenLoop({ clock, startAt: 0, durationMs: 30, maxInFlight: 100, nextGapMs: () => 10, fire: h.fire }))
  await advanceInSteps(clock, 100, 5)
  assert.equal(loop.done(), false)
  for (const r of h.fired) r.settle()
  await flush()
  assert.equal(loop.done(), true)
  assert.deepEqual(await loop.result, { scheduled: 2, fired: 2, dropped: 0 })
})

test('maxRequests bounds the loop and it ends without waiting for the duration', async () => {
  const clock = createManualClock(0)
  const loop = track(runOpenLoop({ clock, startAt: 0, durationMs: 10_000, maxInFlight: 1, maxRequests: 5, nextGapMs: () => 1, fire: async () => {} }))
  await advanceInSteps(clock, 20, 0.5)
  assert.equal(loop.done(), true)
  const res = await loop.result
  assert.equal(res.scheduled, 5)
})

test('abort stops scheduling at once; the loop resolves when in-flight requests settle', async () => {
  const clock = createManualClock(0)
  const h = heldFire(clock)
  const ac = new AbortController()
  const loop = track(runOpenLoop({ clock, startAt: 0, durationMs: 1000, maxInFlight: 100, nextGapMs: () => 10, fire: h.fire, signal: ac.signal }))
  await advanceInSteps(clock, 25, 1)
  ac.abort()
  await advanceInSteps(clock, 100, 1)
  assert.deepEqual(h.fired.map((r) => r.intendedAt), [10, 20])
  assert.equal(loop.done(), false)
  h.fired[0].settle()
  h.fired[1].settle()
  await flush()
  assert.deepEqual(await loop.result, { scheduled: 2, fired: 2, dropped: 0 })
})

test('an already aborted signal resolves without firing', async () => {
  const clock = createManualClock(0)
  const ac = new AbortController()
  ac.abort()
  let fired = 0
  const res = await runOpenLoop({ clock, startAt: 0, durationMs: 100, maxInFlight: 1, nextGapMs: () => 1, fire: async () => { fired++ }, signal: ac.signal })
  assert.deepEqual(res, { scheduled: 0, fired: 0, dropped: 0 })
  assert.equal(fired, 0)
})

test('a synchronous throw or rejection from fire still frees the slot', async () => {
  const clock = createManualClock(0)
  let n = 0
  const loop = runOpenLoop({
    clock, startAt: 0, durationMs: 50, maxInFlight: 1, nextGapMs: () => 10,
    fire: (): Promise<unknown> => { n++; if (n % 2 === 0) throw new Error('boom'); return Promise.reject(new Error('no')) }
  })
  await advanceInSteps(clock, 60, 1)
  assert.deepEqual(await loop, { scheduled: 4, fired: 4, dropped: 0 })
})

test('bad options and bad gaps reject with ScheduleError', async () => {
  const clock = createManualClock(0)
  const base = { clock, startAt: 0, durationMs: 100, maxInFlight: 1, nextGapMs: () => 1, fire: async () => {} }
  await assert.rejects(runOpenLoop({ ...base, maxInFlight: 0 }), (e: unknown) => e instanceof ScheduleError && e.code === 'ERR_BAD_SCHEDULE' && /maxInFlight 0/.test(e.message))
  await assert.rejects(runOpenLoop({ ...base, durationMs: Number.NaN }), ScheduleError)
  let k = 0
  const loop = runOpenLoop({ ...base, nextGapMs: () => (++k === 3 ? -1 : 1) })
  const rejected = assert.rejects(loop, (e: unknown) => e instanceof ScheduleError && /returned -1/.test(e.message))
  await advanceInSteps(clock, 10, 1)
  await rejected
})

test('blockFirst is asked for the first due time only, before that request fires', async () => {
  const clock = systemClock()
  const events: string[] = []
  const res = await runOpenLoop({
    clock, startAt: clock.now() + 30, durationMs: 40, maxInFlight: 10, nextGapMs: () => 10,
    fire: async () => { events.push('fire') },
    blockFirst: () => { events.push('block?'); return true }
  })
  // Due at +10, +20 and +30 ms after startAt.
  assert.equal(res.fired, 3)
  // A host so loaded that the thread woke after the first due time never asks: nothing to block for.
  if (events[0] === 'block?') assert.deepEqual(events, ['block?', 'fire', 'fire', 'fire'])
  else assert.deepEqual(events, ['fire', 'fire', 'fire'])
})
