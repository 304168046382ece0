import { build } from 'hdr-histogram-js'
import type { JsHistogram } from 'hdr-histogram-js'
import { HistogramConfigError } from './errors.ts'

/**
 * The one HDR configuration used everywhere in loadmesh. Merging is a bucket-wise sum, which is only
 * meaningful when every peer uses identical buckets, so this is fixed, not configurable.
 * Values are microseconds for latencies (1 us .. 1 h at 3 significant digits) and raw counts for
 * token histograms, which share the same buckets.
 */
export const HISTOGRAM_CONFIG = Object.freeze({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 3_600_000_000,
  numberOfSignificantValueDigits: 3 as const
})

/** Highest value a histogram stores; larger values are clamped to it (and counted as clamped). */
export const HISTOGRAM_MAX_VALUE = HISTOGRAM_CONFIG.highestTrackableValue

/**
 * An HDR histogram in the loadmesh configuration (the JS implementation from hdr-histogram-js).
 * Read it through `summarize`; write it through `recordMs` / `recordValue` / `mergeInto`.
 */
export type Histogram = JsHistogram

/** What `recordMs` / `recordValue` did with a value. */
export type RecordOutcome = 'recorded' | 'clamped' | 'skipped'

export interface CreateHistogramOptions {
  /**
   * Counter width. 64 (default) holds counts exactly up to 2^53 and is what long-lived or merged
   * histograms need; 32 halves the memory (≈95 KB instead of ≈190 KB) for short-lived per-window
   * histograms that cannot see 2^32 values in one bucket.
   */
  bits?: 32 | 64
}

/**
 * A new, empty histogram. Dense typed-array buckets, not 'packed': packed recording was measured at
 * ~4x the cost and its bucket scans (merge, encode, percentiles) at ~20x, and finished windows are kept
 * encoded anyway (see run-recorder.ts). Not WebAssembly: ~1.7x faster to record, but it needs explicit
 * destroy() and its memory lives outside the GC.
 */
export function createHistogram(options: CreateHistogramOptions = {}): Histogram {
  return build({
    ...HISTOGRAM_CONFIG,
    bitBucketSize: options.bits ?? 64,
    autoResize: false,
    useWebAssembly: false
  }) as JsHistogram
}

/**
 * Records a duration given in milliseconds, stored as whole microseconds (rounded). Values outside
 * [0, 1 h] are clamped to the range and reported as 'clamped' so the caller can count them; NaN and
 * ±Infinity mean "did not happen" and are skipped.
 */
export function recordMs(h: Histogram, ms: number): RecordOutcome {
  return recordValue(h, ms * 1000)
}

/** Records a raw value (e.g. a token count), rounded to an integer, clamped like `recordMs`. */
export function recordValue(h: Histogram, value: number): RecordOutcome {
  if (!Number.isFinite(value)) return 'skipped'
  if (h.countsArrayLength !== STANDARD_COUNTS_LENGTH || h.unitMagnitude !== 0) assertStandardConfig(h, 'recordValue')
  const v = clampedValue(value)
  h.incrementCountAtIndex(countsIndex(v))
  h.updateMinAndMax(v)
  h.incrementTotalCount()
  return v === Math.round(value) ? 'recorded' : 'clamped'
}

/** The value rounded to an integer within [0, HISTOGRAM_MAX_VALUE]; `+ 0` turns -0 into 0 (Math.round(-0.3) is -0). */
function clampedValue(value: number): number {
  const v = Math.round(value) + 0
  return v < 0 ? 0 : v > HISTOGRAM_MAX_VALUE ? HISTOGRAM_MAX_VALUE : v
}

/**
 * Same bucket as h.recordValue(v) (a test checks it over the whole range), ~6x faster: the library
 * finds the bucket with Math.log2 and Math.pow; every value here is < 2^32, so Math.clz32 does it.
 */
function countsIndex(v: number): number {
  const bucket = Math.max(0, TOP_BIT_BASE - Math.clz32(v))
  return bucket * SUB_BUCKET_HALF_COUNT + (v >>> bucket)
}

/**
 * Records a raw value `count` times (count a non-negative integer), clamped like `recordValue`:
 * the weighted histograms of the production view record each request with a count proportional
 * to its importance weight. Needs a 64-bit histogram once counts get large.
 */
export function recordValueCount(h: Histogram, value: number, count: number): RecordOutcome {
  if (!Number.isFinite(value) || !(count > 0)) return 'skipped'
  if (!Number.isInteger(count)) throw new RangeError(`recordValueCount: count must be an integer, got ${count}`)
  if (h.countsArrayLength !== STANDARD_COUNTS_LENGTH || h.unitMagnitude !== 0) assertStandardConfig(h, 'recordValueCount')
  const v = clampedValue(value)
  h.addToCountAtIndex(countsIndex(v), count)
  h.updateMinAndMax(v)
  h.addToTotalCount(count)
  return v === Math.round(value) ? 'recorded' : 'clamped'
}

const REFERENCE = createHistogram({ bits: 32 })
/** Number of buckets of a standard histogram (23552). */
export const STANDARD_COUNTS_LENGTH = REFERENCE.countsArrayLength
/** 1024 at 3 significant digits: each power-of-two range above 2048 is split into this many buckets. */
const SUB_BUCKET_HALF_COUNT = REFERENCE.subBucketHalfCount
/** 31 − log2(SUB_BUCKET_HALF_COUNT): bucket index = max(0, TOP_BIT_BASE − clz32(v)). */
const TOP_BIT_BASE = 31 - REFERENCE.subBucketHalfCountMagnitude
if (REFERENCE.unitMagnitude !== 0 || HISTOGRAM_MAX_VALUE >= 2 ** 32) {
  throw new Error('histogram.ts: the fast recording path assumes unit resolution and values below 2^32')
}

/** True when `h` uses the loadmesh configuration (same buckets, so counts can be added index by index). */
export function hasStandardConfig(h: Histogram): boolean {
  return (
    h.lowestDiscernibleValue === HISTOGRAM_CONFIG.lowestDiscernibleValue &&
    h.highestTrackableValue === HISTOGRAM_CONFIG.highestTrackableValue &&
    h.numberOfSignificantValueDigits === HISTOGRAM_CONFIG.numberOfSignificantValueDigits &&
    h.countsArrayLength === STANDARD_COUNTS_LENGTH
  )
}

export function assertStandardConfig(h: Histogram, what: string): void {
  if (!hasStandardConfig(h)) {
    throw new HistogramConfigError(
      `${what}: histogram has configuration (lowest ${h.lowestDiscernibleValue}, highest ` +
        `${h.highestTrackableValue}, ${h.numberOfSignificantValueDigits} digits); expected (lowest 1, ` +
        `highest ${HISTOGRAM_MAX_VALUE}, 3 digits)`
    )
  }
}

/**
 * Adds every bucket of `source` to `target` (lossless: the result is the histogram of both value
 * sets). Only scans `source` up to its highest recorded bucket, which keeps merging a window cheap.
 */
export function mergeInto(target: Histogram, source: Histogram): void {
  assertStandardConfig(target, 'mergeInto target')
  assertStandardConfig(source, 'mergeInto source')
  const total = source.totalCount
  if (total === 0) return
  const last = Math.min(source.countsArrayIndex(source.maxValue), STANDARD_COUNTS_LENGTH - 1)
  let seen = 0
  let lo = -1
  let hi = -1
  for (let i = 0; i <= last; i++) {
    const c = source.getCountAtIndex(i)
    if (c > 0) {
      target.addToCountAtIndex(i, c)
      seen += c
      if (lo < 0 && i > 0) lo = i
      hi = i
    }
  }
  // A maxValue that under-reports would make the scan stop early; fall back to a full scan.
  if (seen !== total) {
    for (let i = last + 1; i < STANDARD_COUNTS_LENGTH; i++) {
      const c = source.getCountAtIndex(i)
      if (c > 0) {
        target.addToCountAtIndex(i, c)
        seen += c
        if (lo < 0) lo = i
        hi = i
      }
    }
  }
  if (seen === 0) return
  target.setTotalCount(target.totalCount + seen)
  noteRange(target, lo, hi)
}

/**
 * Keeps the library's max / min-non-zero tracking right after counts were added directly at bucket
 * indices: `hi` is the highest index touched, `loNonZero` the lowest index > 0 touched (-1 if none).
 * The encoder relies on maxValue to know where the buckets end.
 */
export function noteRange(h: Histogram, loNonZero: number, hi: number): void {
  h.updateMinAndMax(h.highestEquivalentValue(h.valueFromIndex(hi)))
  if (loNonZero > 0) h.updateMinAndMax(h.valueFromIndex(loNonZero))
}

/** A fresh 64-bit copy of `h`. */
export function copyHistogram(h: Histogram): Histogram {
  const out = createHistogram()
  mergeInto(out, h)
  return out
}
