import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock } from '@loadmesh/clock'
import type { Clock, Timer } from '@loadmesh/clock'
import { createRng } from '@loadmesh/workload'
import { createEngineFromProfile, prefixBlockHashes } from '../src/index.ts'
import { harness, testProfile } from './helpers.ts'

const close = (a: number, b: number, eps = 1e-6): void => { assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`) }

test('the first token comes out at the end of the step that finishes the prefill, then one per decode step', () => {
  const h = harness(testProfile())
  const p = h.submit({ promptTokens: 100, outputTokens: 10 })
  h.clock.runAll()
  // Prefill step: t0 10 ms + 100 tokens x 0.01 ms; each decode step: 10 ms + 1 token.
  assert.equal(p.chunks.length, 10)
  close(p.chunks[0][0], 11)
  for (let i = 1; i < 10; i++) close(p.chunks[i][0] - p.chunks[i - 1][0], 10.01)
  close(p.doneAt, 11 + 9 * 10.01)
  assert.equal(p.tokens(), 10)
  assert.ok(p.timings !== undefined)
  close(p.timings.queueMs, 0)
  close(p.timings.prefillMs, 11)
  close(p.timings.decodeMs, 9 * 10.01)
  assert.equal(p.timings.replica, 0)
  assert.equal(h.engine.active(), 0)
})

test('tokens are released in groups of tokensPerChunk, the last group shorter', () => {
  const h = harness(testProfile(), {}, 4)
  const p = h.submit({ outputTokens: 10 })
  h.clock.runAll()
  assert.deepEqual(p.chunks.map((c) => c[1]), [4, 4, 2])
  assert.ok(Number.isFinite(p.doneAt))
})

test('prefill-only requests (embeddings) finish at the end of their prefill step with no tokens', () => {
  const h = harness(testProfile())
  const p = h.submit({ endpoint: '/v1/embeddings', promptTokens: 300, outputTokens: 0, finishReason: 'stop' })
  h.clock.runAll()
  assert.equal(p.chunks.length, 0)
  close(p.doneAt, 10 + 300 * 0.01)
})

test('continuous batching: a request arriving mid-stream joins the running batch and both slow down', () => {
  const h = harness(testProfile({ step_cost: { t_token_ms: 1 } }))
  const a = h.submit({ promptTokens: 10, outputTokens: 20 })
  h.clock.advance(50)
  const b = h.submit({ promptTokens: 200, outputTokens: 5 })
  h.clock.runAll()
  // b's prefill (200 tokens at 1 ms) shares a step with a's decode: a sees one long gap, and b's
  // first token comes at the end of that shared step, not after a finishes.
  const gapsA = a.chunks.slice(1).map((c, i) => c[0] - a.chunks[i][0])
  assert.ok(gapsA.some((g) => g > 200), `a should see b's prefill step, gaps ${gapsA}`)
  assert.ok(b.chunks[0][0] < a.doneAt, 'b starts before a finishes')
  // While both decode, a step computes 2 tokens: 12 ms instead of 11.
  assert.ok(gapsA.some((g) => Math.abs(g - 12) < 1e-9))
  assert.equal(a.tokens(), 20)
  assert.equal(b.tokens(), 5)
})

test('max_num_seqs bounds the batch; the rest wait FCFS and their queue time is reported', () => {
  const h = harness(testProfile({ scheduler: { max_num_seqs: 2 } }))
  const ps = [h.submit(), h.submit(), h.submit()]
  h.clock.runAll()
  assert.ok(ps.every((p) => p.tokens() === 10))
  assert.ok((ps[2].timings as { queueMs: number }).queueMs > 0)
  assert.ok(ps[2].chunks[0][0] >= Math.min(ps[0].doneAt, ps[1].doneAt))
})

test('preemption by recompute when the KV cache runs out, and every request still completes', () => {
  // 64 blocks of 16 tokens = 1024 tokens: 8 requests of 100 + 200 tokens cannot all fit.
  const kvGib = (64 * 16 * 32 * 1024) / 2 ** 30
  const h = harness(testProfile({ scheduler: { kv_cache_gib: kvGib, watermark: 0 } }))
  const ps = Array.from({ length: 8 }, () => h.submit({ promptTokens: 100, outputTokens: 200 }))
  let maxUsage = 0
  for (let i = 0; i < 10_000 && h.engine.active() > 0; i++) {
    h.clock.advance(5)
    maxUsage = Math.max(maxUsage, h.engine.stats().kvCacheUsage)
  }
  const st = h.engine.stats()
  assert.ok(st.preemptions > 0, 'expected preemptions')
  assert.ok(ps.every((p) => p.tokens() === 200 && Number.isFinite(p.doneAt)), 'every request completes with all its tokens')
  assert.ok(ps.some((p) => (p.timings?.preemptions ?? 0) > 0))
  assert.ok(maxUsage > 0.9, `KV filled up (max usage ${maxUsage})`)
  assert.equal(st.kvCacheUsage, 0)
  assert.equal(st.running + st.waiting, 0)
})

test('prefix cache: the second turn of a conversation reuses the first turn\'s blocks and starts sooner', () => {
  const h = harness(testProfile({ scheduler: { prefix_caching: true }, step_cost: { t_token_ms: 0.1 } }))
  const words = (n: number, from: number): string => Array.from({ length: n }, (_, i) => ` w${from + i}`).join('')
  const turn1 = `system:${words(999, 0)}`
  const turn2 = `${turn1}${words(200, 5000)}`
  const first = h.submit({ promptTokens: 1000, outputTokens: 5, prefixHashes: prefixBlockHashes(turn1, 1000) })
  h.clock.runAll()
  const second = h.submit({ promptTokens: 1200, outputTokens: 5, prefixHashes: prefixBlockHashes(turn2, 1200) })
  h.clock.runAll()
  const st = h.engine.stats()
  assert.equal(first.timings?.cachedPromptTokens, 0)
  // 62 of turn 1's blocks are full (992 tokens) and shared by turn 2.
  assert.equal(second.timings?.cachedPromptTokens, 992)
  assert.equal(st.prefixCacheHits, 992)
  assert.equal(st.prefixCacheQueries, 2200)
  const ttft1 = first.chunks[0][0] - first.req.arrivalAt
  const ttft2 = second.chunks[0][0] - second.req.arrivalAt
  assert.ok(ttft2 < ttft1 / 2, `cached prefill is cheaper: ${ttft2} vs ${ttft1}`)
})

test('prefix cache off: prefix hashes are ignored', () => {
  const h = harness(testProfile())
  const text = Array.from({ length: 500 }, (_, i) => ` w${i}`).join('')
  h.submit({ promptTokens: 500, prefixHashes: prefixBlockHashes(text, 500) })
  h.clock.runAll()
  const p = h.submit({ promptTokens: 500, prefixHashes: prefixBlockHashes(text, 500) })
  h.clock.runAll()
  assert.equal(p.timings?.cachedPromptTokens, 0)
  assert.equal(h.engine.stats().prefixCacheQueries, 0)
})

test('a brownout multiplies step time for its window, then it ends', () => {
  const h = harness(testProfile())
  const p = h.submit({ promptTokens: 10, outputTokens: 30 })
  h.clock.advance(60)
  h.engine.inject({ kind: 'brownout', factor: 3, durationMs: 100 })
  h.clock.runAll()
  const gaps = p.chunks.slice(1).map((c, i) => c[0] - p.chunks[i][0])
  assert.ok(gaps.some((g) => Math.abs(g - 30.03) < 1e-6), `tripled steps in the window: ${gaps}`)
  assert.ok(Math.abs(gaps[gaps.length - 1] - 10.01) < 1e-6, 'normal again after the window')
})

test('a stall pauses tokens for its duration; nothing fails', () => {
  const h = harness(testProfile())
  const p = h.submit({ promptTokens: 10, outputTokens: 20 })
  h.clock.advance(50)
  h.engine.inject({ kind: 'stall', durationMs: 500 })
  h.clock.runAll()
  const gaps = p.chunks.slice(1).map((c, i) => c[0] - p.chunks[i][0])
  assert.ok(Math.max(...gaps) >= 500, `one gap covers the stall: ${Math.max(...gaps)}`)
  assert.equal(p.tokens(), 20)
  assert.equal(p.error, undefined)
})

test('a crash fails in-flight requests with 503, refuses new ones until the restart, then serves again empty', () => {
  const h = harness(testProfile())
  const a = h.submit({ outputTokens: 100 })
  const queued = h.submit({ outputTokens: 100 })
  h.clock.advance(100)
  h.engine.inject({ kind: 'crash', replica: 0, restartMs: 1000 })
  assert.equal(a.error?.status, 503)
  assert.equal(queued.error?.status, 503)
  assert.ok(a.tokens() > 0 && a.tokens() < 100)
  assert.equal(h.engine.active(), 0)
  assert.equal(h.engine.stats().replicas[0].up, false)
  const refused = h.submit()
  assert.equal(refused.error?.status, 503, 'refused while down')
  assert.ok((refused.error?.retryAfterS ?? 0) >= 1)
  h.clock.advance(1000)
  assert.equal(h.engine.stats().replicas[0].up, true)
  assert.equal(h.engine.stats().kvCacheUsage, 0)
  const after = h.submit()
  h.clock.runAll()
  assert.equal(after.tokens(), 10)
  assert.equal(after.error, undefined)
})

test('with several replicas a crash takes one down and the others keep serving', () => {
  const h = harness(testProfile(), { replicas: 2 })
  h.engine.inject({ kind: 'crash', replica: 1, restartMs: 5000 })
  const ps = Array.from({ length: 4 }, () => h.submit())
  h.clock.runAll(1000)
  assert.ok(ps.every((p) => p.error === undefined && p.tokens() === 10))
  assert.ok(ps.every((p) => p.timings?.replica === 0))
})

test('round robin spreads requests over replicas; least loaded picks the emptiest', () => {
  const rr = harness(testProfile(), { replicas: 3 })
  const a = Array.from({ length: 6 }, () => rr.submit())
  rr.clock.runAll()
  assert.deepEqual(a.map((p) => p.timings?.replica), [0, 1, 2, 0, 1, 2])
  const ll = harness(testProfile(), { replicas: 2, routing: 'least-loaded' })
  const long = Array.from({ length: 4 }, () => ll.submit({ outputTokens: 1000 }))
  ll.clock.advance(100)
  // Replica 1's two requests go away: it now has 0 in flight against replica 0's 2.
  long[1].cancel()
  long[3].cancel()
  const b = Array.from({ length: 3 }, () => ll.submit({ outputTokens: 1 }))
  ll.clock.runAll()
  assert.deepEqual(long.map((p) => p.timings?.replica), [0, undefined, 0, undefined])
  assert.deepEqual(b.map((p) => p.timings?.replica), [1, 1, 0], 'to replica 1 until it is as loaded as replica 0')
})

test('above maxWaiting a request is refused at once with 503 (the queue limit of an overloaded server)', () => {
  const h = harness(testProfile(), { maxWaiting: 3 })
  const ps = Array.from({ length: 5 }, () => h.submit())
  assert.deepEqual(ps.map((p) => p.error?.status), [undefined, undefined, undefined, 503, 503])
  h.clock.runAll()
  assert.equal(ps.filter((p) => p.tokens() === 10).length, 3)
})

test('prompt + output over the context length is refused with 400 context_length_exceeded', () => {
  const h = harness(testProfile())
  assert.equal(h.engine.maxModelLen(), 4096)
  const p = h.submit({ promptTokens: 4000, outputTokens: 200 })
  assert.equal(p.error?.status, 400)
  assert.equal(p.error?.code, 'context_length_exceeded')
  assert.equal(h.engine.active(), 0)
})

test('the context length never exceeds what the KV cache can hold', () => {
  const h = harness(testProfile({ scheduler: { kv_cache_gib: (100 * 16 * 32 * 1024) / 2 ** 30 } }))
  assert.equal(h.engine.maxModelLen(), 1600)
})

test('cancelling frees the request\'s KV and it gets no more tokens', () => {
  const h = harness(testProfile())
  const p = h.submit({ outputTokens: 100 })
  h.clock.advance(200)
  const got = p.tokens()
  assert.ok(h.engine.stats().kvCacheUsage > 0)
  p.cancel()
  p.cancel()
  h.clock.runAll()
  assert.equal(p.tokens(), got)
  assert.ok(Number.isNaN(p.doneAt))
  assert.equal(h.engine.stats().kvCacheUsage, 0)
  assert.equal(h.engine.active(), 0)
})

test('stop fails every pending request with 503 and later submits are refused', () => {
  const h = harness(testProfile({ scheduler: { api_overhead_ms: 50 } }))
  const running = h.submit({ outputTokens: 100 })
  h.clock.advance(100)
  const arriving = h.submit()
  h.engine.stop()
  assert.equal(running.error?.status, 503)
  assert.equal(arriving.error?.status, 503)
  assert.equal(h.engine.active(), 0)
  assert.equal(h.submit().error?.status, 503)
  assert.equal(h.clock.pending(), 0)
})

test('the API overhead delays when the scheduler sees a request (it is part of TTFT)', () => {
  const h = harness(testProfile({ scheduler: { api_overhead_ms: 7 } }))
  const p = h.submit({ promptTokens: 100 })
  h.clock.runAll()
  close(p.chunks[0][0], 7 + 11)
  close(p.timings?.queueMs ?? -1, 7)
})

test('one clock timer for the whole engine, however many requests and replicas', () => {
  const h = harness(testProfile({ scheduler: { api_overhead_ms: 3 }, noise: { ttft_sigma: 0.5 } }), { replicas: 4 })
  for (let i = 0; i < 300; i++) h.submit({ outputTokens: 50 + (i % 7) })
  let maxPending = 0
  while (h.engine.active() > 0) {
    maxPending = Math.max(maxPending, h.clock.pending())
    h.clock.advance(1)
  }
  assert.equal(maxPending, 1)
})

test('bad faults are refused with an error naming them', () => {
  const h = harness(testProfile(), { replicas: 2 })
  assert.throws(() => h.engine.inject({ kind: 'crash', replica: 2, restartMs: 10 }), { code: 'ERR_BAD_ENGINE_CONFIG', message: /crash: replica must be an integer in 0\.\.1/ })
  assert.throws(() => h.engine.inject({ kind: 'brownout', factor: 0, durationMs: 10 }), /brownout: factor/)
  assert.throws(() => h.engine.inject({ kind: 'stall', durationMs: -1 }), /stall: durationMs/)
  assert.throws(() => h.engine.inject({ kind: 'melt' } as never), /unknown kind "melt"/)
})

test('same seed, same token times (noise is seeded and shared by the batch)', () => {
  const run = (seed: number): number[] => {
    const h = harness(testProfile({ noise: { step_sigma: 0.3, ttft_sigma: 0.5 }, scheduler: { api_overhead_ms: 5 } }), {}, 1, seed)
    const ps = Array.from({ length: 20 }, (_, i) => h.submit({ promptTokens: 50 + i, outputTokens: 20 }))
    h.clock.runAll()
    return ps.flatMap((p) => p.chunks.map((c) => c[0]))
  }
  assert.deepEqual(run(7), run(7))
  assert.notDeepEqual(run(7), run(8))
  // Step noise is one draw per step: requests decoding together see identical gaps.
  const h = harness(testProfile({ noise: { step_sigma: 0.3 } }))
  const a = h.submit({ promptTokens: 10, outputTokens: 20 })
  const b = h.submit({ promptTokens: 10, outputTokens: 20 })
  h.clock.runAll()
  assert.deepEqual(a.chunks.map((c) => c[0]), b.chunks.map((c) => c[0]))
  const gaps = a.chunks.slice(1).map((c, i) => c[0] - a.chunks[i][0])
  assert.ok(new Set(gaps.map((g) => g.toFixed(6))).size > 5, 'steps vary')
})

test('a simulator whose timers keep firing late runs the steps it owes in one tick: the model keeps its pace', () => {
  const inner = createManualClock()
  const lagMs = 35
  // Every timer fires 35 ms late: an event loop busy with other work.
  const clock: Clock = { ...inner, setTimer: (fn, ms): Timer => inner.setTimer(fn, ms + lagMs) }
  const engine = createEngineFromProfile(testProfile(), { clock, rng: createRng(1), tokensPerChunk: 1 })
  engine.start()
  const chunks: Array<[number, number]> = []
  let doneAt = Number.NaN
  engine.submit({ id: 'lag', endpoint: '/v1/chat/completions', model: 'm', promptTokens: 100, outputTokens: 30, finishReason: 'length', stream: true, arrivalAt: 0 }, {
    onTokens(n) { chunks.push([inner.now(), n]) },
    onDone() { doneAt = inner.now() },
    onError(err) { assert.fail(err.message) }
  })
  inner.runAll()
  assert.equal(chunks.reduce((a, c) => a + c[1], 0), 30)
  // On time it ends at 11 + 29 x 10.01 ms. The first late tick is taken for a hiccup (the stream
  // slips once); after that late timers only delay the last tick, they do not slow each step.
  assert.ok(doneAt <= 11 + 29 * 10.01 + 2 * lagMs + 1e-6, `done at ${doneAt}`)
  // ~4 steps per tick: the tokens of a tick reach the server together (it writes them as one frame).
  const ticks = new Set(chunks.map((c) => c[0])).size
  assert.ok(ticks <= 9, `${ticks} ticks for 30 tokens`)
})

test('one late timer (a hiccup) delays the stream and merges nothing', () => {
  const inner = createManualClock()
  // Only the first timer (the request's arrival) fires late.
  let lagMs = 35
  const clock: Clock = { ...inner, setTimer: (fn, ms): Timer => { const t = inner.setTimer(fn, ms + lagMs); lagMs = 0; return t } }
  const engine = createEngineFromProfile(testProfile(), { clock, rng: createRng(1), tokensPerChunk: 1 })
  engine.start()
  const chunks: Array<[number, number]> = []
  engine.submit({ id: 'hiccup', endpoint: '/v1/chat/completions', model: 'm', promptTokens: 100, outputTokens: 10, finishReason: 'length', stream: true, arrivalAt: 0 }, {
    onTokens(n) { chunks.push([inner.now(), n]) },
    onDone() {},
    onError(err) { assert.fail(err.message) }
  })
  inner.runAll()
  assert.deepEqual(chunks.map((c) => c[1]), Array(10).fill(1))
  // The first token came 35 ms late; every later one a step after the previous.
  close(chunks[0][0], 11 + 35)
  for (let i = 1; i < 10; i++) close(chunks[i][0] - chunks[i - 1][0], 10.01)
})
