import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseWorkloadLog, replaySchedule, recordShareKey, shareForKey } from '../src/index.ts'
import type { ReplayItem, ReplayOptions, WorkloadLog } from '../src/index.ts'

/** A generic log with records at the given ms offsets. */
function logAt (times: number[], extra: (i: number) => string = () => ''): WorkloadLog {
  const lines = times.map((t, i) => JSON.stringify({ at_ms: t, input_tokens: 10 + i, output_tokens: 5 }).slice(0, -1) + extra(i) + '}')
  return parseWorkloadLog(lines.join('\n'), 'test.jsonl')
}

function take (it: Iterable<ReplayItem>, n: number): ReplayItem[] {
  const out: ReplayItem[] = []
  for (const x of it) {
    out.push(x)
    if (out.length >= n) break
  }
  return out
}

const TIMES = [0, 100, 250, 1000, 1003, 4000]

test('plain replay keeps the logged times exactly', () => {
  const items = [...replaySchedule(logAt(TIMES))]
  assert.deepEqual(items.map((x) => x.atMs), TIMES)
  assert.deepEqual(items.map((x) => x.record.inputTokens), [10, 11, 12, 13, 14, 15])
})

test('speedup divides every time exactly', () => {
  const items = [...replaySchedule(logAt(TIMES), { speedup: 60 })]
  assert.deepEqual(items.map((x) => x.atMs), TIMES.map((t) => t / 60))
})

test('a window replays [fromMs, toMs) shifted to start at 0', () => {
  const items = [...replaySchedule(logAt(TIMES), { fromMs: 100, toMs: 1003 })]
  assert.deepEqual(items.map((x) => x.atMs), [0, 150, 900])
  assert.deepEqual(items.map((x) => x.record.atMs), [100, 250, 1000])
})

test('loop repeats the window with period toMs − fromMs, bounded by maxDurationMs', () => {
  const items = [...replaySchedule(logAt(TIMES), { fromMs: 100, toMs: 1100, loop: true, maxDurationMs: 2500 })]
  // Window records at 100, 250, 1000, 1003 → 0, 150, 900, 903; period 1000.
  assert.deepEqual(items.map((x) => x.atMs), [0, 150, 900, 903, 1000, 1150, 1900, 1903, 2000, 2150])
  assert.deepEqual(items.map((x) => x.iteration), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
})

test('loop without toMs: period is the span plus the mean gap; with speedup', () => {
  // Span 4000, mean gap 800: period 4800.
  const items = take(replaySchedule(logAt(TIMES), { loop: true, speedup: 2 }), 8)
  assert.deepEqual(items.map((x) => x.atMs), [0, 50, 125, 500, 501.5, 2000, 2400, 2450])
})

test('rateScale 0.5 keeps an evenly spread half; 0.25 a quarter, also across loop passes', () => {
  const times = Array.from({ length: 12 }, (_, i) => i * 10)
  const half = [...replaySchedule(logAt(times), { rateScale: 0.5 })]
  assert.deepEqual(half.map((x) => x.atMs), [10, 30, 50, 70, 90, 110])
  const quarter = [...replaySchedule(logAt(times.slice(0, 6)), { rateScale: 0.25, loop: true, maxDurationMs: 240 })]
  // 6 records per pass of 60 ms; over 4 passes (24 records) exactly 6 are kept.
  assert.equal(quarter.length, 6)
})

test('rateScale 2.5 emits 2 or 3 copies per record, spread evenly up to the next record', () => {
  const items = [...replaySchedule(logAt([0, 100, 200, 300]), { rateScale: 2.5, toMs: 400 })]
  assert.equal(items.length, 10)
  // Copy k of c sits at t + (k/c)·(next − t), computed exactly so.
  assert.deepEqual(items.map((x) => x.atMs), [0, 50, 100, 100 + (1 / 3) * 100, 100 + (2 / 3) * 100, 200, 250, 300, 300 + (1 / 3) * 100, 300 + (2 / 3) * 100])
  assert.deepEqual(items.map((x) => x.copy), [0, 1, 0, 1, 2, 0, 1, 0, 1, 2])
})

test('property: due times are non-decreasing and exactly (t − from + i·period)/speedup', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 2, maxLength: 30 }),
    fc.double({ min: 0.01, max: 1000, noNaN: true }),
    fc.integer({ min: 0, max: 2000 }),
    (raw, speedup, from) => {
      const times = [...raw].sort((a, b) => a - b)
      const log = logAt(times)
      const inWindow = log.records.filter((r) => r.atMs >= from)
      if (inWindow.length === 0) return
      const opts: ReplayOptions = { speedup, fromMs: from, toMs: from + 6000, loop: true, maxDurationMs: 15000 / speedup }
      let prev = -Infinity
      for (const x of replaySchedule(log, opts)) {
        assert.ok(x.atMs >= prev)
        prev = x.atMs
        assert.equal(x.atMs, (x.record.atMs - from + x.iteration * 6000) / speedup)
        assert.ok(x.atMs < 15000 / speedup)
      }
    }
  ), { seed: 42, numRuns: 200 })
})

test('bad replay options are refused with the option named', () => {
  const log = logAt(TIMES)
  assert.throws(() => replaySchedule(log, { speedup: 0 }), { code: 'ERR_BAD_SPEC', message: /speedup must be a positive number, got 0/ })
  assert.throws(() => replaySchedule(log, { rateScale: -1 }), /rateScale must be a positive number/)
  assert.throws(() => replaySchedule(log, { fromMs: 500, toMs: 500 }), /toMs \(500\) must be greater than fromMs \(500\)/)
  assert.throws(() => replaySchedule(log, { fromMs: 5000 }), /window \[5000, end\) ms of test\.jsonl holds no records/)
  assert.throws(() => replaySchedule(logAt([0]), { loop: true }), /single record and no length; give toMs/)
})

test('share keys keep a session together; shares follow the weights and depend only on key and weights', () => {
  const log = logAt([0, 1, 2, 3], (i) => (i < 3 ? `,"session_id":"conv-${i % 2}","turn":${Math.floor(i / 2) + 1}` : ''))
  assert.equal(recordShareKey(log.records[0]), 'session:conv-0')
  assert.equal(recordShareKey(log.records[2]), 'session:conv-0')
  assert.equal(recordShareKey(log.records[3]), `line:${log.records[3].line}`)
  const weights = [1, 2, 0, 1]
  const counts = [0, 0, 0, 0]
  for (let i = 0; i < 40_000; i++) counts[shareForKey(`line:${i}`, weights)]++
  assert.equal(counts[2], 0)
  // Binomial standard deviation is ~100 at these sizes; 600 is six of them.
  assert.ok(Math.abs(counts[0] - 10_000) < 600 && Math.abs(counts[1] - 20_000) < 600 && Math.abs(counts[3] - 10_000) < 600, String(counts))
  assert.equal(shareForKey('session:abc', weights), shareForKey('session:abc', [...weights]))
  assert.throws(() => shareForKey('x', [0, 0]), /must not all be zero/)
})
