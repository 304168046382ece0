import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createManualClock } from '@loadmesh/clock'
import type { Clock, ManualClock, Timer } from '@loadmesh/clock'
import { createFixedEngine } from '../src/fixed-engine.ts'
import type { LatencyModel } from '../src/latency-model.ts'
import type { FinishReason, SimError, SimRequest, TokenSink } from '../src/engine.ts'

const constant = (ttft: number, itl: number): LatencyModel => ({ ttftMs: () => ttft, itlMs: () => itl })

function request(outputTokens: number, arrivalAt = 0, id = 'r1'): SimRequest {
  return {
    id, endpoint: '/v1/chat/completions', model: 'm', promptTokens: 10, outputTokens,
    finishReason: 'length', stream: true, arrivalAt
  }
}

interface Recorded {
  emits: Array<{ at: number; n: number }>
  done: Array<{ at: number; reason: FinishReason }>
  errors: SimError[]
  sink: TokenSink
}

function recorder(clock: Clock, onTokens?: (n: number) => void): Recorded {
  const r: Recorded = {
    emits: [], done: [], errors: [],
    sink: {
      onTokens: (n) => { r.emits.push({ at: clock.now(), n }); onTokens?.(n) },
      onDone: (reason) => { r.done.push({ at: clock.now(), reason }) },
      onError: (err) => { r.errors.push(err) }
    }
  }
  return r
}

test('tokens leave at arrival + ttft + sum of itls, exactly', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  const rec = recorder(clock)
  engine.submit(request(20), rec.sink)
  clock.runAll()
  assert.deepEqual(rec.emits.map((e) => e.at), Array.from({ length: 20 }, (_, k) => 100 + 10 * k))
  assert.ok(rec.emits.every((e) => e.n === 1))
  assert.deepEqual(rec.done, [{ at: 290, reason: 'length' }])
  assert.equal(engine.active(), 0)
  assert.equal(clock.pending(), 0)
})

test('deadlines are absolute: counted from arrivalAt, not from submit', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  clock.advance(30) // e.g. prompt tokenisation took 30 ms after the request arrived at t=0
  const rec = recorder(clock)
  engine.submit(request(3, 0), rec.sink)
  clock.runAll()
  assert.deepEqual(rec.emits.map((e) => e.at), [100, 110, 120])
})

test('each ITL is asked for its own token index and accumulates', () => {
  const clock = createManualClock()
  const indices: number[] = []
  const latency: LatencyModel = { ttftMs: () => 50, itlMs: (_req, k) => { indices.push(k); return k } }
  const engine = createFixedEngine({ clock, latency })
  engine.start()
  const rec = recorder(clock)
  engine.submit(request(5), rec.sink)
  clock.runAll()
  assert.deepEqual(indices, [1, 2, 3, 4])
  assert.deepEqual(rec.emits.map((e) => e.at), [50, 51, 53, 56, 60])
})

/** A clock whose timers fire `lateMs` late while `late` is on: a busy event loop. */
function laggingClock(inner: ManualClock): { clock: Clock; setLag(ms: number): void } {
  let lag = 0
  const clock: Clock = {
    now: () => inner.now(),
    wallNow: () => inner.wallNow(),
    setTimer: (fn, ms): Timer => inner.setTimer(fn, ms + lag),
    setImmediate: (fn) => inner.setImmediate(fn)
  }
  return { clock, setLag: (ms) => { lag = ms } }
}

test('a late timer delays that emission, and later tokens count their ITL from it', () => {
  const inner = createManualClock()
  const { clock, setLag } = laggingClock(inner)
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  const rec = recorder(clock, () => { setLag(0) })
  setLag(25) // the first timer (due at 100) fires at 125
  engine.submit(request(10), rec.sink)
  inner.runAll()
  // Token 0 (due 100) goes out at 125; the next decode step starts then, so token 1 is at 135:
  // an observed gap is never shorter than the sampled ITL.
  assert.deepEqual(rec.emits, Array.from({ length: 10 }, (_, i) => ({ at: 125 + 10 * i, n: 1 })))
  assert.deepEqual(rec.done.map((d) => d.at), [215])
})

test('tokensPerEmit groups tokens: one timer per group, released at the group\'s last deadline', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(100, 10), tokensPerEmit: 4 })
  engine.start()
  const rec = recorder(clock)
  engine.submit(request(10), rec.sink)
  assert.equal(clock.pending(), 1)
  clock.runAll()
  assert.deepEqual(rec.emits, [{ at: 130, n: 4 }, { at: 170, n: 4 }, { at: 190, n: 2 }])
})

test('one pending timer per active request, never one per token', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(20, 5) })
  engine.start()
  for (let i = 0; i < 50; i++) engine.submit(request(100, 0, `r${i}`), recorder(clock).sink)
  assert.equal(clock.pending(), 50)
  clock.advance(200)
  assert.equal(clock.pending(), 50)
  assert.equal(engine.active(), 50)
  clock.runAll()
  assert.equal(engine.active(), 0)
})

test('cancel stops the request: no further sink calls and no timer left', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  const rec = recorder(clock)
  const cancel = engine.submit(request(20), rec.sink)
  clock.advance(140) // tokens at 100..140
  assert.equal(rec.emits.length, 5)
  cancel()
  cancel() // idempotent
  assert.equal(engine.active(), 0)
  assert.equal(clock.pending(), 0)
  clock.advance(1000)
  assert.equal(rec.emits.length, 5)
  assert.deepEqual(rec.done, [])
})

test('cancel from inside onTokens is honoured', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(10, 10) })
  engine.start()
  let cancel = (): void => {}
  const rec = recorder(clock, () => { if (rec.emits.length === 2) cancel() })
  cancel = engine.submit(request(20), rec.sink)
  clock.runAll()
  assert.equal(rec.emits.length, 2)
  assert.deepEqual(rec.done, [])
  assert.equal(clock.pending(), 0)
})

test('stop fails in-flight requests with 503 and clears timers; submit before start is refused', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  const early = recorder(clock)
  engine.submit(request(5), early.sink)
  assert.equal(early.errors[0]?.status, 503)
  engine.start()
  const a = recorder(clock)
  const b = recorder(clock)
  engine.submit(request(5), a.sink)
  engine.submit(request(5), b.sink)
  engine.stop()
  assert.deepEqual([a.errors.length, b.errors.length, a.errors[0].status], [1, 1, 503])
  assert.equal(clock.pending(), 0)
  assert.equal(engine.active(), 0)
})

test('rejects bad tokensPerEmit and non-positive outputTokens', () => {
  const clock = createManualClock()
  assert.throws(() => createFixedEngine({ clock, latency: constant(1, 1), tokensPerEmit: 0 }), { code: 'ERR_BAD_SIM_CONFIG' })
  const engine = createFixedEngine({ clock, latency: constant(1, 1) })
  engine.start()
  assert.throws(() => engine.submit(request(0), recorder(clock).sink), { code: 'ERR_BAD_SIM_CONFIG', message: /r1.*outputTokens/ })
})

test('property: emissions follow the prefix sums of the sampled latencies, for any group size', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 500 }),
    fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 0, maxLength: 40 }),
    fc.integer({ min: 1, max: 6 }),
    (ttft, itls, group) => {
      const n = itls.length + 1
      const clock = createManualClock()
      const latency: LatencyModel = { ttftMs: () => ttft, itlMs: (_r, k) => itls[k - 1] }
      const engine = createFixedEngine({ clock, latency, tokensPerEmit: group })
      engine.start()
      const rec = recorder(clock)
      engine.submit(request(n), rec.sink)
      clock.runAll()
      const deadlines: number[] = [ttft]
      for (const g of itls) deadlines.push(deadlines[deadlines.length - 1] + g)
      // Reference: a group of `group` tokens goes out at its last deadline, together with any later
      // token due at that same instant (a zero ITL).
      const expected: Array<{ at: number; n: number }> = []
      for (let i = 0; i < n;) {
        let last = Math.min(i + group, n) - 1
        const at = deadlines[last]
        while (last + 1 < n && deadlines[last + 1] <= at) last++
        expected.push({ at, n: last - i + 1 })
        i = last + 1
      }
      assert.deepEqual(rec.emits, expected)
      assert.equal(rec.done.length, 1)
      assert.equal(rec.done[0].at, deadlines[n - 1])
    }
  ), { seed: 42, numRuns: 200 })
})
