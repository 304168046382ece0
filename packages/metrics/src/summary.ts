import { STANDARD_COUNTS_LENGTH, createHistogram } from './histogram.ts'
import type { Histogram } from './histogram.ts'

/**
 * The distribution of one metric, computed from a (merged) histogram.
 *
 * - `count` is the number of recorded values. For an empty histogram every other field is `null`
 *   (not 0, which would be a plausible latency, and not NaN, which JSON cannot carry).
 * - Percentiles use HDR's nearest-rank rule (the smallest recorded value v such that at least p% of the
 *   values are ≤ v) and report the *upper* edge of v's bucket, so they are never below the truth and
 *   at most 0.1% above it (3 significant digits). `min` is the lower edge of the lowest bucket and `max`
 *   the upper edge of the highest, so min ≤ true min and max ≥ true max by the same margin.
 * - `mean` and `stdev` (population) use bucket midpoints, as HdrHistogram does.
 * - Values are divided by `scale`: 1000 turns stored microseconds into milliseconds.
 */
export interface Summary {
  count: number
  min: number | null
  mean: number | null
  stdev: number | null
  p50: number | null
  p90: number | null
  p95: number | null
  p99: number | null
  p999: number | null
  max: number | null
}

export type SummaryPercentile = 'p50' | 'p90' | 'p95' | 'p99' | 'p999'

/** The percentile each `SummaryPercentile` key stands for. */
export const PERCENTILES: Readonly<Record<SummaryPercentile, number>> = Object.freeze({
  p50: 50,
  p90: 90,
  p95: 95,
  p99: 99,
  p999: 99.9
})

const KEYS = Object.keys(PERCENTILES) as SummaryPercentile[]

export interface SummarizeOptions {
  /** Divide every value by this (1000: µs → ms). Default 1 (raw). */
  scale?: number
}

/** Summarizes a histogram in one pass over its buckets (up to the highest recorded one). */
export function summarize(h: Histogram, options: SummarizeOptions = {}): Summary {
  const scale = options.scale ?? 1
  const total = h.totalCount
  if (total === 0) {
    return { count: 0, min: null, mean: null, stdev: null, p50: null, p90: null, p95: null, p99: null, p999: null, max: null }
  }
  const targets = KEYS.map((k) => rankOf(PERCENTILES[k], total))
  const values: number[] = new Array(KEYS.length).fill(Number.NaN)
  const idx: number[] = []
  const cnt: number[] = []
  let cumulative = 0
  let next = 0
  let sum = 0
  for (let i = 0; i < STANDARD_COUNTS_LENGTH && cumulative < total; i++) {
    const c = h.getCountAtIndex(i)
    if (c === 0) continue
    cumulative += c
    idx.push(i)
    cnt.push(c)
    sum += c * h.medianEquivalentValue(h.valueFromIndex(i))
    while (next < targets.length && cumulative >= targets[next]) {
      values[next] = h.highestEquivalentValue(h.valueFromIndex(i))
      next++
    }
  }
  const mean = sum / total
  let sq = 0
  for (let k = 0; k < idx.length; k++) {
    const d = h.medianEquivalentValue(h.valueFromIndex(idx[k])) - mean
    sq += d * d * cnt[k]
  }
  const min = h.lowestEquivalentValue(h.valueFromIndex(idx[0]))
  const max = h.highestEquivalentValue(h.valueFromIndex(idx[idx.length - 1]))
  return {
    count: total,
    min: min / scale,
    mean: mean / scale,
    stdev: Math.sqrt(sq / total) / scale,
    p50: values[0] / scale,
    p90: values[1] / scale,
    p95: values[2] / scale,
    p99: values[3] / scale,
    p999: values[4] / scale,
    max: max / scale
  }
}

/**
 * Only the given percentiles (e.g. [50, 99]), for the live panel: stops scanning at the last one.
 * Returns null entries for an empty histogram. Same rule and bucket edge as `summarize`.
 */
export function percentiles(h: Histogram, ps: readonly number[], scale = 1): Array<number | null> {
  const total = h.totalCount
  if (total === 0) return ps.map(() => null)
  const order = ps.map((p, i) => ({ i, rank: rankOf(p, total) })).sort((a, b) => a.rank - b.rank)
  const out: Array<number | null> = ps.map(() => null)
  let cumulative = 0
  let next = 0
  for (let i = 0; i < STANDARD_COUNTS_LENGTH && next < order.length; i++) {
    const c = h.getCountAtIndex(i)
    if (c === 0) continue
    cumulative += c
    while (next < order.length && cumulative >= order[next].rank) {
      out[order[next].i] = h.highestEquivalentValue(h.valueFromIndex(i)) / scale
      next++
    }
  }
  return out
}

/**
 * `percentiles` for a bucket list from `decodeBuckets` ([index, count, ...], increasing index), so a
 * stored window's p50/p99 need neither a histogram nor a scan of its empty buckets.
 */
export function percentilesOfBuckets(buckets: readonly number[], ps: readonly number[], scale = 1): Array<number | null> {
  let total = 0
  for (let k = 1; k < buckets.length; k += 2) total += buckets[k]
  const out: Array<number | null> = ps.map(() => null)
  if (total === 0) return out
  const order = ps.map((p, i) => ({ i, rank: rankOf(p, total) })).sort((a, b) => a.rank - b.rank)
  let cumulative = 0
  let next = 0
  for (let k = 0; k < buckets.length && next < order.length; k += 2) {
    cumulative += buckets[k + 1]
    while (next < order.length && cumulative >= order[next].rank) {
      out[order[next].i] = EDGES.highestEquivalentValue(EDGES.valueFromIndex(buckets[k])) / scale
      next++
    }
  }
  return out
}

/** Bucket edges depend only on the configuration; any standard histogram can compute them. */
const EDGES = createHistogram({ bits: 32 })

/** Nearest rank (1-based) for percentile p of n values; the epsilon absorbs fp noise in p/100*n. */
function rankOf(p: number, n: number): number {
  const exact = (p / 100) * n
  return Math.min(n, Math.max(1, Math.ceil(exact - exact * 1e-12)))
}
