import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  HISTOGRAM_MAX_VALUE,
  HistogramConfigError,
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  mergeInto,
  percentiles,
  recordMs,
  recordValue,
  summarize
} from '../src/index.ts'
import { build } from 'hdr-histogram-js'
import type { JsHistogram } from 'hdr-histogram-js'
import { buckets, exactPercentile, rng } from './helpers.ts'

test('recordValue puts every value in the same bucket as the library, over the whole range', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: HISTOGRAM_MAX_VALUE }), { maxLength: 200 }), (values) => {
      const ours = createHistogram({ bits: 32 })
      const lib = createHistogram({ bits: 32 })
      for (const v of values) {
        recordValue(ours, v)
        lib.recordValue(v)
      }
      assert.deepEqual(buckets(ours), buckets(lib))
      assert.equal(ours.totalCount, lib.totalCount)
      assert.equal(ours.maxValue, lib.maxValue)
      assert.equal(ours.minNonZeroValue, lib.minNonZeroValue)
    }),
    { seed: 11, numRuns: 300 }
  )
  // Edges that random draws rarely hit: 0, bucket boundaries, the top of the range.
  const edges = [0, 1, 2047, 2048, 2049, 4095, 4096, 2 ** 20, 2 ** 31 - 1, 2 ** 31, HISTOGRAM_MAX_VALUE]
  const ours = createHistogram()
  const lib = createHistogram()
  for (const v of edges) {
    recordValue(ours, v)
    lib.recordValue(v)
  }
  assert.deepEqual(buckets(ours), buckets(lib))
})

test('recordMs stores rounded microseconds, clamps out-of-range values and skips non-finite ones', () => {
  const h = createHistogram()
  assert.equal(recordMs(h, 1.2344), 'recorded') // 1234.4 us -> 1234
  assert.equal(recordMs(h, 0.0004), 'recorded') // 0.4 us -> 0
  assert.equal(recordMs(h, -3), 'clamped') // -> 0
  assert.equal(recordMs(h, 2 * 3_600_000), 'clamped') // 2 h -> 1 h
  assert.equal(recordMs(h, Number.NaN), 'skipped')
  assert.equal(recordMs(h, Number.POSITIVE_INFINITY), 'skipped')
  assert.equal(h.totalCount, 4)
  const s = summarize(h)
  assert.equal(s.min, 0)
  assert.equal(percentiles(h, [50])[0], 0) // two zeros among four values
  assert.ok((s.max as number) >= HISTOGRAM_MAX_VALUE && (s.max as number) <= HISTOGRAM_MAX_VALUE * 1.001)
  assert.deepEqual(buckets(h).find(([i]) => i === 1234), [1234, 1])
})

test('shards merged through encode/decode equal the histogram of all values, bucket by bucket', () => {
  const next = rng(42)
  for (let round = 0; round < 5; round++) {
    const all = createHistogram()
    const shards = Array.from({ length: 2 + round }, () => createHistogram({ bits: 32 }))
    for (let i = 0; i < 20_000; i++) {
      // log-uniform from 1 us to ~1 h, plus exact zeros
      const v = next() < 0.01 ? 0 : Math.round(Math.exp(next() * Math.log(HISTOGRAM_MAX_VALUE)))
      recordValue(all, v)
      recordValue(shards[Math.floor(next() * shards.length)], v)
    }
    const merged = createHistogram()
    for (const s of shards) mergeInto(merged, decodeHistogram(encodeHistogram(s)))
    assert.deepEqual(buckets(merged), buckets(all))
    assert.equal(merged.totalCount, all.totalCount)
    assert.deepEqual(summarize(merged), summarize(all))
    // and the merged histogram survives another round trip unchanged
    assert.deepEqual(buckets(decodeHistogram(encodeHistogram(merged))), buckets(all))
  }
})

test('summaries match exact nearest-rank percentiles within 3 significant digits', () => {
  const next = rng(7)
  for (const shape of ['uniform', 'lognormal', 'bimodal'] as const) {
    const values: number[] = []
    for (let i = 0; i < 5000; i++) {
      const u = next()
      const ms =
        shape === 'uniform'
          ? u * 2000
          : shape === 'lognormal'
            ? Math.exp(3 + 1.5 * Math.sqrt(-2 * Math.log(u || 1e-12)) * Math.cos(2 * Math.PI * next()))
            : u < 0.9
              ? 20 + next() * 5
              : 900 + next() * 100
      values.push(ms)
    }
    const h = createHistogram()
    for (const v of values) recordMs(h, v)
    const sorted = values.map((v) => Math.round(v * 1000) / 1000).sort((a, b) => a - b)
    const s = summarize(h, { scale: 1000 })
    assert.equal(s.count, values.length)
    const close = (got: number | null, want: number, label: string): void => {
      assert.ok(got !== null, label)
      // upper bucket edge: never below the truth, at most 0.1% (+ 1 us of rounding) above it
      assert.ok(got >= want - 0.0005 && got <= want * 1.001 + 0.001, `${shape} ${label}: ${got} vs exact ${want}`)
    }
    for (const [key, p] of [['p50', 50], ['p90', 90], ['p95', 95], ['p99', 99], ['p999', 99.9]] as const) {
      close(s[key], exactPercentile(sorted, p), key)
    }
    close(s.max, sorted[sorted.length - 1], 'max')
    assert.ok((s.min as number) <= sorted[0] + 0.0005 && (s.min as number) >= sorted[0] * 0.999 - 0.001, 'min')
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    assert.ok(Math.abs((s.mean as number) - mean) <= mean * 0.001 + 0.001, `${shape} mean ${s.mean} vs ${mean}`)
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
    assert.ok(Math.abs((s.stdev as number) - sd) <= sd * 0.01 + 0.001, `${shape} stdev ${s.stdev} vs ${sd}`)
  }
})

test('an empty histogram summarizes to count 0 and nulls', () => {
  assert.deepEqual(summarize(createHistogram(), { scale: 1000 }), {
    count: 0, min: null, mean: null, stdev: null, p50: null, p90: null, p95: null, p99: null, p999: null, max: null
  })
  assert.deepEqual(percentiles(createHistogram(), [50, 99]), [null, null])
})

test('token counts are summarized raw (scale 1)', () => {
  const h = createHistogram()
  for (const n of [1, 2, 3, 100, 1000]) recordValue(h, n)
  const s = summarize(h)
  assert.equal(s.p50, 3)
  assert.equal(s.min, 1)
  assert.equal(s.max, 1000)
})

test('merging refuses a histogram with another configuration instead of mixing buckets', () => {
  const foreign = build({ numberOfSignificantValueDigits: 2, highestTrackableValue: 3_600_000_000, autoResize: false }) as JsHistogram
  foreign.recordValue(5)
  assert.throws(() => mergeInto(createHistogram(), foreign), (e: unknown) => e instanceof HistogramConfigError && e.code === 'ERR_HISTOGRAM_CONFIG')
  assert.throws(() => recordMs(foreign, 1), HistogramConfigError)
})
