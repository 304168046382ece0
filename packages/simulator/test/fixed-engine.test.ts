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

test('timer jitter (under 2 ms) delays that emission, and later tokens count their ITL from it', () => {
  const inner = createManualClock()
  const { clock, setLag } = laggingClock(inner)
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  const rec = recorder(clock, () => { setLag(0) })
  setLag(1.5) // the first timer (due at 100) fires at 101.5
  engine.submit(request(10), rec.sink)
  inner.runAll()
  // Token 0 goes out at 101.5; the next decode step starts then, so token 1 is at 111.5: under light
  // load an observed gap is never shorter than the sampled ITL.
  assert.deepEqual(rec.emits, Array.from({ length: 10 }, (_, i) => ({ at: 101.5 + 10 * i, n: 1 })))
  assert.deepEqual(rec.done.map((d) => d.at), [191.5])
})

test('a single late timer (a hiccup) delays that emission, and later tokens count their ITL from it', () => {
  const inner = createManualClock()
  const { clock, setLag } = laggingClock(inner)
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  const rec = recorder(clock, () => { setLag(0) })
  setLag(25) // the first timer (due at 100) fires at 125
  engine.submit(request(10), rec.sink)
  inner.runAll()
  // Token 0 (due 100) goes out at 125; the next decode step starts then, so token 1 is at 135: one
  // hiccup merges nothing.
  assert.deepEqual(rec.emits, Array.from({ length: 10 }, (_, i) => ({ at: 125 + 10 * i, n: 1 })))
  assert.deepEqual(rec.done.map((d) => d.at), [215])
})

test('timers late tick after tick: every token due comes out in one emission and the timeline is kept', () => {
  const inner = createManualClock()
  const { clock, setLag } = laggingClock(inner)
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  const rec = recorder(clock)
  setLag(25) // every timer fires 25 ms late: the simulator is behind
  engine.submit(request(10), rec.sink)
  inner.runAll()
  // 125: the first late tick is taken for a hiccup (token 0; token 1 due at 135). 160: the second
  // in a row, so tokens due at 135, 145 and 155 come out together, and so on on the model's timeline.
  assert.deepEqual(rec.emits, [{ at: 125, n: 1 }, { at: 160, n: 3 }, { at: 190, n: 3 }, { at: 220, n: 3 }])
  // Slipping by 25 ms every token would end at 440.
  assert.deepEqual(rec.done.map((d) => d.at), [220])
})

test('property: however late the timers fire, every token comes out once and never before its deadline; sustained lateness does not slow the stream', () => {
  const run = (lags: number[], n: number): Recorded => {
    const inner = createManualClock()
    const { clock, setLag } = laggingClock(inner)
    const engine = createFixedEngine({ clock, latency: constant(50, 10) })
    engine.start()
    let k = 0
    setLag(lags[0])
    const rec = recorder(clock, () => { k++; setLag(lags[k % lags.length]) })
    engine.submit(request(n), rec.sink)
    inner.runAll()
    assert.equal(rec.emits.reduce((a, e) => a + e.n, 0), n)
    let out = 0
    for (const e of rec.emits) {
      out += e.n
      assert.ok(e.at >= 50 + 10 * (out - 1), `emission of ${e.n} at ${e.at} precedes token ${out - 1}'s deadline`)
    }
    assert.equal(rec.done.length, 1)
    return rec
  }
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 30 }), (lags, n) => {
    run(lags, n)
  }), { seed: 4, numRuns: 200 })
  fc.assert(fc.property(fc.array(fc.integer({ min: 20, max: 80 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 10, max: 30 }), (lags, n) => {
    const rec = run(lags, n)
    // The first late tick slips the stream once; after that only the last emission's own lateness counts.
    assert.ok(rec.done[0].at <= 50 + 10 * (n - 1) + 2 * 80, `done at ${rec.done[0].at}`)
  }), { seed: 5, numRuns: 200 })
})

test('tokensPerEmit groups tokens, released at the group\'s last deadline', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(100, 10), tokensPerEmit: 4 })
  engine.start()
  const rec = recorder(clock)
  engine.submit(request(10), rec.sink)
  assert.equal(clock.pending(), 1)
  clock.runAll()
  assert.deepEqual(rec.emits, [{ at: 130, n: 4 }, { at: 170, n: 4 }, { at: 190, n: 2 }])
})

test('one pending clock timer for the whole engine, never one per request or per token', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(20, 5) })
  engine.start()
  const recs = Array.from({ length: 50 }, () => recorder(clock))
  // Staggered arrivals, so the streams' deadlines interleave.
  recs.forEach((r, i) => { engine.submit(request(100, i * 0.3, `r${i}`), r.sink) })
  assert.equal(clock.pending(), 1)
  clock.advance(200)
  assert.equal(clock.pending(), 1)
  assert.equal(engine.active(), 50)
  clock.runAll()
  assert.equal(engine.active(), 0)
  assert.equal(clock.pending(), 0)
  // Each stream still sees its own exact schedule.
  recs.forEach((r, i) => {
    assert.equal(r.emits.length, 100)
    assert.equal(r.emits[0].at, 20 + i * 0.3)
    assert.equal(r.done[0].at, 20 + i * 0.3 + 99 * 5)
  })
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

test('rejects bad tokensPerEmit, bad maxModelLen and a generation request without output', () => {
  const clock = createManualClock()
  assert.throws(() => createFixedEngine({ clock, latency: constant(1, 1), tokensPerEmit: 0 }), { code: 'ERR_BAD_SIM_CONFIG' })
  assert.throws(() => createFixedEngine({ clock, latency: constant(1, 1), maxModelLen: 1.5 }), { code: 'ERR_BAD_SIM_CONFIG', message: /maxModelLen/ })
  const engine = createFixedEngine({ clock, latency: constant(1, 1) })
  engine.start()
  assert.throws(() => engine.submit(request(0), recorder(clock).sink), { code: 'ERR_BAD_SIM_CONFIG', message: /r1.*outputTokens/ })
  assert.equal(engine.maxModelLen(), 131072)
  assert.equal(createFixedEngine({ clock, latency: constant(1, 1), maxModelLen: 4096 }).maxModelLen(), 4096)
})

test('prefill-only requests (embeddings) finish after the TTFT with no tokens and report timings', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(40, 10) })
  engine.start()
  const timings: unknown[] = []
  const rec = recorder(clock)
  const sink: TokenSink = { ...rec.sink, onDone: (reason, t) => { rec.done.push({ at: clock.now(), reason }); timings.push(t) } }
  engine.submit({ ...request(0), endpoint: '/v1/embeddings', finishReason: 'stop' }, sink)
  clock.runAll()
  assert.deepEqual(rec.emits, [])
  assert.deepEqual(rec.done, [{ at: 40, reason: 'stop' }])
  assert.deepEqual(timings, [{ queueMs: 0, prefillMs: 40, decodeMs: 0, cachedPromptTokens: 0, preemptions: 0, replica: 0 }])
})

test('stats: running requests and the prompt and generation tokens served', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(10, 10) })
  engine.start()
  engine.submit(request(5, 0, 'a'), recorder(clock).sink)
  engine.submit(request(3, 0, 'b'), recorder(clock).sink)
  clock.advance(15)
  const s = engine.stats()
  assert.equal(s.running, 2)
  assert.equal(s.waiting, 0)
  assert.equal(s.promptTokens, 20)
  assert.equal(s.generationTokens, 2)
  assert.deepEqual(s.replicas, [{ up: true, running: 2, waiting: 0, kvCacheUsage: 0 }])
  clock.runAll()
  assert.equal(engine.stats().running, 0)
  assert.equal(engine.stats().generationTokens, 8)
})

test('brownout multiplies the latencies drawn while it lasts', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(100, 10) })
  engine.start()
  engine.inject({ kind: 'brownout', factor: 3, durationMs: 350 })
  const rec = recorder(clock)
  engine.submit(request(6), rec.sink)
  clock.runAll()
  // TTFT 300; ITLs 30 while the window lasts (draws at 300 and 330), 10 after it (from 360 on).
  assert.deepEqual(rec.emits.map((e) => e.at), [300, 330, 360, 370, 380, 390])
})

test('a stall holds every emission due before its end; later gaps count from the release', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(10, 10) })
  engine.start()
  const rec = recorder(clock)
  engine.submit(request(6), rec.sink)
  clock.advance(25) // tokens at 10 and 20
  engine.inject({ kind: 'stall', durationMs: 100 })
  clock.runAll()
  assert.deepEqual(rec.emits.map((e) => e.at), [10, 20, 125, 135, 145, 155])
  assert.throws(() => engine.inject({ kind: 'stall', durationMs: 5, replica: 1 }), { code: 'ERR_BAD_SIM_CONFIG', message: /replica/ })
})

test('a crash fails in-flight requests with 503 and refuses new ones until the restart', () => {
  const clock = createManualClock()
  const engine = createFixedEngine({ clock, latency: constant(10, 10) })
  engine.start()
  const a = recorder(clock)
  engine.submit(request(100), a.sink)
  clock.advance(50)
  engine.inject({ kind: 'crash', replica: 0, restartMs: 2500 })
  assert.equal(a.errors.length, 1)
  assert.equal(a.errors[0].status, 503)
  assert.equal(a.errors[0].retryAfterS, 3)
  assert.equal(engine.active(), 0)
  assert.equal(clock.pending(), 0)
  assert.equal(engine.stats().replicas[0].up, false)
  const refused = recorder(clock)
  engine.submit(request(3, clock.now()), refused.sink)
  assert.equal(refused.errors[0]?.status, 503)
  assert.match(refused.errors[0].message, /restarts in 2500 ms/)
  clock.advance(2500)
  const b = recorder(clock)
  engine.submit(request(3, clock.now()), b.sink)
  clock.runAll()
  assert.equal(b.emits.length, 3)
  assert.equal(b.done.length, 1)
  assert.throws(() => engine.inject({ kind: 'crash', replica: 2, restartMs: 1 }), { code: 'ERR_BAD_SIM_CONFIG' })
  assert.throws(() => engine.inject({ kind: 'brownout', factor: 0, durationMs: 1 }), { code: 'ERR_BAD_SIM_CONFIG', message: /factor/ })
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
