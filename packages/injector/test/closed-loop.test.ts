import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock } from '@loadmesh/clock'
import type { ManualClock } from '@loadmesh/clock'
import { runClosedLoop, ScheduleError } from '../src/index.ts'
import { flush, heldFire, seeded } from './helpers/loop-harness.ts'

/** One manual-clock step: timers due now fire, settled requests run, then the workers' hops. */
async function step(clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms)
  await flush()
  clock.advance(0)
  await flush()
}

test('C workers keep exactly C requests in flight; intendedAt is when the worker became free', async () => {
  const clock = createManualClock(0)
  const rnd = seeded(3)
  let active = 0
  const settledAt: number[] = []
  const intended: number[] = []
  const loop = runClosedLoop({
    clock, startAt: 10, durationMs: 500, concurrency: 4,
    fire: (t) => {
      intended.push(t)
      active++
      return new Promise<void>((resolve) => {
        clock.setTimer(() => { active--; settledAt.push(clock.now()); resolve() }, 1 + Math.floor(rnd() * 20))
      })
    }
  })
  await step(clock, 0)
  assert.equal(active, 0, 'nothing before startAt')
  await step(clock, 10)
  assert.deepEqual(intended, [10, 10, 10, 10])
  while (clock.now() < 500) {
    await step(clock, 1)
    assert.equal(active, 4, `at ${clock.now()}`)
  }
  while (clock.now() < 600) await step(clock, 1)
  const res = await loop
  assert.equal(active, 0)
  assert.equal(res.fired, intended.length)
  assert.ok(res.fired > 80, `4 workers over 500 ms with ~11 ms requests: got ${res.fired}`)
  // Every later request's intended time is a moment a previous request settled.
  const settleTimes = new Set(settledAt)
  for (const t of intended.slice(4)) assert.ok(settleTimes.has(t), `intendedAt ${t} is not a settle time`)
  assert.ok(intended.every((t) => t < 510), 'no request starts after the duration')
})

test('maxRequests bounds the closed loop', async () => {
  const clock = createManualClock(0)
  const h = heldFire(clock)
  const loop = runClosedLoop({ clock, startAt: 0, durationMs: 10_000, concurrency: 2, maxRequests: 5, fire: h.fire })
  for (let i = 0; i < 20; i++) {
    await step(clock, 1)
    for (const r of h.fired) r.settle()
  }
  await step(clock, 1)
  assert.deepEqual(await loop, { scheduled: 5, fired: 5, dropped: 0 })
  assert.equal(h.fired.length, 5)
})

test('abort stops new requests and resolves once in-flight ones settle', async () => {
  const clock = createManualClock(0)
  const h = heldFire(clock)
  const ac = new AbortController()
  let done = false
  const loop = runClosedLoop({ clock, startAt: 0, durationMs: 10_000, concurrency: 3, fire: h.fire, signal: ac.signal })
  loop.then(() => { done = true }, () => {})
  await step(clock, 1)
  assert.equal(h.inFlight(), 3)
  ac.abort()
  await step(clock, 1)
  assert.equal(done, false)
  for (const r of h.fired) r.settle()
  await step(clock, 1)
  assert.equal(done, true)
  assert.equal(h.fired.length, 3, 'no request after the abort')
})

test('a worker that fails instantly does not starve the event loop', async () => {
  const clock = createManualClock(0)
  let n = 0
  const loop = runClosedLoop({ clock, startAt: 0, durationMs: 5, concurrency: 1, fire: async () => { n++ } })
  // Each relaunch waits for the next clock turn (one per advance), so a frozen clock sees one
  // request per advance; launching from the promise callback would spin here forever.
  await step(clock, 0)
  await step(clock, 0)
  assert.ok(n <= 5, `fired ${n} times without the clock moving`)
  for (let i = 0; i < 10; i++) await step(clock, 1)
  assert.equal((await loop).fired, n)
})

test('bad options reject with ScheduleError', async () => {
  const clock = createManualClock(0)
  await assert.rejects(runClosedLoop({ clock, startAt: 0, durationMs: 1, concurrency: 0, fire: async () => {} }),
    (e: unknown) => e instanceof ScheduleError && /concurrency 0/.test(e.message))
})
