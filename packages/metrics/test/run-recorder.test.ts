import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  MetricsDecodeError,
  METRIC_NAMES,
  createHistogram,
  createRunRecorder,
  decodeHistogram,
  decodeSnapshot,
  emptyResult,
  mergeInto,
  mergeSnapshots,
  recordMs,
  summarize,
  windowSummaryRow
} from '../src/index.ts'
import type { RequestResult, RunRecorder, WindowSnapshot } from '../src/index.ts'
import { buckets, failed, rng, streamed } from './helpers.ts'

const T0 = 50_000 // run start on the monotonic clock

test('events land in the window of the time that defines them', () => {
  const rec = createRunRecorder({ startAt: T0 })
  rec.onScheduled(T0 + 100) // w0
  rec.onSent(T0 + 900) // w0
  // intended in w0, sent late in w0, first token in w1, finished in w2: filed under w2
  rec.record(streamed(T0 + 100, { lag: 800, ttft: 300, gaps: [500, 600], tail: 1 }))
  rec.onScheduled(T0 + 200) // w0
  rec.onSent(T0 + 200) // w0
  rec.record(failed(T0 + 200, T0 + 3050, 'timeout')) // w3
  rec.onDropped(T0 + 1500) // w1
  rec.onSent(T0 + 5200) // w5; nothing in w4
  const ws = rec.windows()
  assert.deepEqual(ws.map((w) => w.index), [0, 1, 2, 3, 4, 5])
  assert.deepEqual(ws.map((w) => w.start_ms), [0, 1000, 2000, 3000, 4000, 5000])
  const pick = (w: WindowSnapshot) => [w.counters.scheduled, w.counters.sent, w.counters.completed, w.counters.failed, w.counters.dropped]
  assert.deepEqual(ws.map(pick), [
    [2, 2, 0, 0, 0],
    [0, 0, 0, 0, 1],
    [0, 0, 1, 0, 0],
    [0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0]
  ])
  assert.deepEqual(Object.keys(ws[2].histograms).sort(), ['e2e', 'e2e_service', 'itl', 'output_tokens', 'schedule_lag', 'tpot', 'ttft', 'ttft_content', 'ttft_service'])
  assert.deepEqual(Object.keys(ws[3].histograms), ['schedule_lag']) // a failure keeps only its lag
  assert.deepEqual(ws[3].counters.errors, { timeout: 1 })
  const p50 = summarize(decodeHistogram(ws[2].histograms.ttft), { scale: 1000 }).p50 as number
  assert.ok(p50 >= 1100 && p50 <= 1100 * 1.001, String(p50))
  // windows end at the latest sent/end time seen (5200): all but the last are closed
  assert.deepEqual(ws.map((w) => w.closed), [true, true, true, true, true, false])
  assert.equal(rec.windows(T0 + 6000)[5].closed, true)
  const c = rec.cumulative()
  assert.deepEqual([c.counters.scheduled, c.counters.sent, c.counters.completed, c.counters.failed, c.counters.dropped], [2, 3, 1, 1, 1])
  assert.equal(c.first_intended_ms, 100)
  assert.equal(c.last_end_ms, 3050)
  // counters() is the same numbers without the histograms, and a copy.
  const counters = rec.counters()
  assert.deepEqual(counters, c.counters)
  counters.sent = 99
  assert.equal(rec.counters().sent, 3)
})

test('token counters: usage vs counted, reasoning, chunks; tokens only from ok requests', () => {
  const rec = createRunRecorder({ startAt: 0 })
  rec.record({ ...streamed(0, { gaps: [5, 5, 5], tokens: 8 }), reasoningTokens: 3, inputTokens: 120 })
  rec.record({ ...streamed(0, { gaps: [5] }), outputTokensSource: 'counted', inputTokens: 30 })
  rec.record({ ...failed(0, 10), outputTokens: 99, inputTokens: 99 })
  const c = rec.cumulative().counters
  assert.equal(c.output_tokens, 10)
  assert.equal(c.input_tokens, 150)
  assert.equal(c.reasoning_tokens, 3)
  assert.equal(c.tokens_from_usage, 1)
  assert.equal(c.tokens_counted, 1)
  assert.equal(c.content_chunks, 6)
  assert.equal(c.streamed_output_tokens, 10)
  assert.deepEqual(summarize(rec.cumulative().histograms.output_tokens).count, 2)
})

test('out-of-range values are clamped and counted; odd error classes become "other"', () => {
  const rec = createRunRecorder({ startAt: 0 })
  rec.record(streamed(100, { lag: -2 })) // sent before its intended time: negative lag
  rec.record({ ...failed(0, 5), errorClass: undefined })
  rec.record({ ...failed(0, 5), errorClass: '__proto__' })
  const c = rec.cumulative()
  assert.deepEqual(c.counters.clamped, { schedule_lag: 1 })
  assert.deepEqual(c.counters.errors, { other: 2 })
  assert.equal(Object.getPrototypeOf(c.counters.errors), Object.prototype)
  assert.equal(summarize(c.histograms.schedule_lag).min, 0)
})

/** n random results over `seconds` (times relative to `start`), in end order. */
function workload(seed: number, n: number, start: number, seconds: number): RequestResult[] {
  const next = rng(seed)
  const out: RequestResult[] = []
  for (let i = 0; i < n; i++) {
    const at = start + next() * seconds * 1000
    if (next() < 0.1) {
      out.push(failed(at, at + next() * 2000, next() < 0.5 ? 'timeout' : 'http_500', next() * 3))
      continue
    }
    const gaps = Array.from({ length: Math.floor(next() * 30) }, () => 5 + next() * 40)
    out.push(streamed(at, { lag: next() * 3, ttft: 50 + next() * 900, gaps }))
  }
  return out.sort((a, b) => a.endAt - b.endAt)
}

function feed(rec: RunRecorder, results: RequestResult[]): void {
  for (const r of results) {
    rec.onScheduled(r.intendedAt)
    rec.onSent(r.sentAt)
    rec.record(r)
  }
}

test('cumulative equals the merge of all windows, also after old windows were frozen and a late result thawed one', () => {
  const rec = createRunRecorder({ startAt: T0, hotWindows: 1 })
  const results = workload(1, 400, T0, 20)
  feed(rec, results)
  const late = streamed(T0 + 2000, { ttft: 123, gaps: [7, 7] }) // ends in window 2, long frozen
  rec.record(late)
  const revisionAfterLate = rec.windows()[2].revision
  feed(rec, workload(2, 50, T0 + 20_000, 3)) // time moves on again
  const ws = rec.windows()
  const inWindow2 = (r: RequestResult) => r.endAt >= T0 + 2000 && r.endAt < T0 + 3000
  assert.equal(ws[2].counters.completed, [...results, late].filter((r) => r.ok && inWindow2(r)).length)
  assert.equal(ws[2].revision, revisionAfterLate) // nothing new landed there since
  const merged = decodeSnapshot(mergeSnapshots(ws))
  const c = rec.cumulative()
  assert.deepEqual(merged.counters, c.counters)
  for (const m of METRIC_NAMES) assert.deepEqual(buckets(merged.histograms[m]), buckets(c.histograms[m]), m)
  // window 2 (thawed for the late result, frozen again) holds exactly its requests' ttfts
  const direct = createHistogram()
  for (const r of [...results, late]) if (r.ok && inWindow2(r)) recordMs(direct, r.firstTokenAt - r.intendedAt)
  assert.deepEqual(buckets(decodeSnapshot(ws[2]).histograms.ttft), buckets(direct))
})

test('windows from several peers merge by addition into the single-recorder result (the mesh property)', () => {
  const results = workload(3, 600, 0, 10)
  const whole = createRunRecorder({ startAt: 0 })
  feed(whole, results)
  // three peers with different monotonic clocks, each taking a share of the requests
  const offsets = [0, 7_777_000, 123_456]
  const peers = offsets.map((o) => ({ o, rec: createRunRecorder({ startAt: o }) }))
  results.forEach((r, i) => {
    const { o, rec } = peers[i % 3]
    const shift = (t: number) => t + o
    feed(rec, [{ ...r, intendedAt: shift(r.intendedAt), sentAt: shift(r.sentAt), firstTokenAt: shift(r.firstTokenAt), firstContentAt: shift(r.firstContentAt), lastTokenAt: shift(r.lastTokenAt), endAt: shift(r.endAt) }])
  })
  const end = Math.max(...results.map((r) => r.endAt)) + 1
  const wholeWindows = whole.windows(end)
  // what travels: JSON
  const perPeer = peers.map(({ o, rec }) => JSON.parse(JSON.stringify(rec.windows(end + o))) as WindowSnapshot[])
  for (const w of wholeWindows) {
    const parts = perPeer.map((ws) => ws[w.index]).filter((x) => x !== undefined)
    const merged = mergeSnapshots(parts)
    assert.equal(merged.index, w.index)
    assert.equal(merged.start_ms, w.start_ms)
    assert.deepEqual(merged.counters, w.counters)
    for (const m of METRIC_NAMES) {
      const a = merged.histograms[m] === undefined ? [] : buckets(decodeHistogram(merged.histograms[m]))
      const b = w.histograms[m] === undefined ? [] : buckets(decodeHistogram(w.histograms[m]))
      assert.deepEqual(a, b, `window ${w.index} ${m}`)
    }
    assert.deepEqual(windowSummaryRow(merged), windowSummaryRow(w))
  }
})

test('mergeSnapshots over different windows covers their union', () => {
  const rec = createRunRecorder({ startAt: 0 })
  feed(rec, workload(4, 100, 0, 5))
  const ws = rec.windows()
  const m = mergeSnapshots([ws[3], ws[1]])
  assert.equal(m.index, 1)
  assert.equal(m.start_ms, 1000)
  assert.equal(m.duration_ms, 3000)
  assert.equal(m.counters.completed, ws[1].counters.completed + ws[3].counters.completed)
  assert.throws(() => mergeSnapshots([]), RangeError)
})

test('the live view merges the last windows (never averages percentiles) and computes rates over its span', () => {
  const rec = createRunRecorder({ startAt: 0 })
  // window 0: one very slow request, outside the live span later on
  rec.record(streamed(0, { ttft: 5000, gaps: [900] }))
  // window 7: 98 fast requests; window 8: 2 slow ones
  for (let i = 0; i < 98; i++) rec.record(streamed(7000, { ttft: 100, gaps: [10, 10], tail: 0 }))
  for (let i = 0; i < 2; i++) rec.record(streamed(8000, { ttft: 1000, gaps: [50], tail: 0 }))
  for (let i = 0; i < 3; i++) rec.onSent(8500)
  const lv = rec.live(3000, 9000) // windows 6, 7, 8 (and 9, just started)
  assert.equal(lv.span_ms, 3000)
  assert.equal(lv.completed, 100)
  assert.equal(lv.sent, 3)
  assert.equal(lv.requests_per_s, 100 / 3)
  assert.equal(lv.output_tokens_per_s, (98 * 3 + 2 * 2) / 3)
  // merged: 98 x 100 ms and 2 x 1000 ms -> p50 100, p99 (rank 99 of 100) 1000
  // (the mean of per-window p99s would be 550)
  assert.ok(Math.abs((lv.ttft_p50_ms as number) - 100) <= 0.1, String(lv.ttft_p50_ms))
  assert.ok(Math.abs((lv.ttft_p99_ms as number) - 1000) <= 1, String(lv.ttft_p99_ms))
  assert.ok(Math.abs((lv.itl_p50_ms as number) - 10) <= 0.01)
  assert.ok(Math.abs((lv.itl_p99_ms as number) - 50) <= 0.05)
  assert.deepEqual(lv.total, { scheduled: 0, sent: 3, completed: 101, failed: 0, dropped: 0, in_flight: 0, slo_met: 0 })
  // a span reaching back before the start is cut at the start
  const all = rec.live(60_000, 9000)
  assert.equal(all.span_ms, 9000)
  assert.equal(all.completed, 101)
  assert.ok((all.ttft_p99_ms as number) >= 1000)
})

test('decodeSnapshot accepts what windows() produced (as JSON) and rejects malformed snapshots', () => {
  const rec = createRunRecorder({ startAt: 0 })
  feed(rec, workload(5, 50, 0, 2))
  const w = JSON.parse(JSON.stringify(rec.windows()[1])) as WindowSnapshot
  const d = decodeSnapshot({ ...w, histograms: { ...w.histograms, future_metric: 'whatever' } })
  assert.deepEqual(d.counters, w.counters)
  assert.equal(d.histograms.ttft.totalCount, w.counters.completed)
  assert.deepEqual(windowSummaryRow(d), windowSummaryRow(w))
  const bad: Array<[unknown, RegExp, string]> = [
    [null, /expected an object/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, index: -1 }, /"index" must be a non-negative integer/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, duration_ms: 0 }, /"duration_ms" must be a positive number/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, closed: 'yes' }, /"closed" must be a boolean/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, counters: { ...w.counters, sent: -1 } }, /counter "sent" must be a non-negative integer/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, counters: { ...w.counters, completed: 1.5 } }, /counter "completed"/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, counters: { ...w.counters, errors: { 'bad key!': 1 } } }, /"errors" has an invalid key/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, histograms: { ttft: 5 } }, /histogram "ttft" must be a base64 string/, 'ERR_BAD_SNAPSHOT'],
    [{ ...w, histograms: { ttft: 'garbage' } }, /^peer 9 histogram ttft: not valid base64/, 'ERR_BAD_HISTOGRAM']
  ]
  for (const [input, pattern, code] of bad) {
    assert.throws(
      () => decodeSnapshot(input, 'peer 9'),
      (e: unknown) => e instanceof MetricsDecodeError && e.code === code && pattern.test(e.message),
      String(pattern)
    )
    assert.throws(() => mergeSnapshots([w, input]), MetricsDecodeError)
  }
})

test('windowSummaryRow gives per-second rates and window percentiles in ms', () => {
  const rec = createRunRecorder({ startAt: 0, windowMs: 500 })
  for (let i = 0; i < 4; i++) rec.onSent(1000 + i)
  rec.record(streamed(1000, { ttft: 100, gaps: [20, 20, 20], tail: 0 })) // ends 1160
  rec.record(streamed(1000, { ttft: 200, gaps: [40, 40, 40], tail: 0 })) // ends 1320
  rec.record(failed(1000, 1400))
  const row = windowSummaryRow(rec.windows()[2])
  assert.equal(row.t_s, 1)
  assert.deepEqual([row.sent, row.completed, row.failed, row.dropped], [4, 2, 1, 0])
  assert.equal(row.requests_per_s, 4) // 2 completed in 0.5 s
  assert.equal(row.output_tokens_per_s, 16)
  assert.ok(Math.abs((row.ttft_p50_ms as number) - 100) < 0.1 && Math.abs((row.ttft_p99_ms as number) - 200) < 0.2)
  assert.ok(Math.abs((row.itl_p50_ms as number) - 20) < 0.02 && Math.abs((row.itl_p99_ms as number) - 40) < 0.04)
  assert.ok(Math.abs((row.e2e_p99_ms as number) - 320) < 0.32)
  const empty = windowSummaryRow(rec.windows()[0])
  assert.deepEqual([empty.ttft_p50_ms, empty.e2e_p99_ms, empty.requests_per_s], [null, null, 0])
})

test('absurd timestamps neither crash the recorder nor make windows() allocate millions of windows', () => {
  const rec = createRunRecorder({ startAt: 0 })
  rec.onSent(1e15)
  rec.onScheduled(-5000)
  rec.record({ ...emptyResult(Number.NaN, '/v1/chat/completions', true), ok: false, errorClass: 'connect' })
  const ws = rec.windows()
  assert.ok(ws.length <= 200_001)
  assert.equal(ws[0].counters.scheduled, 1)
  assert.equal(ws[0].counters.failed, 1)
  assert.equal(ws[ws.length - 1].counters.sent, 1)
  const merged = createHistogram()
  mergeInto(merged, rec.cumulative().histograms.ttft)
  assert.equal(merged.totalCount, 0)
})
