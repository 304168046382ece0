import { addCounters, emptyCounters, parseCounters } from './counters.ts'
import type { Counters } from './counters.ts'
import { MetricsDecodeError } from './errors.ts'
import { createHistogram } from './histogram.ts'
import type { Histogram } from './histogram.ts'
import { decodeBuckets, decodeInto, encodeHistogram } from './histogram-codec.ts'
import { METRIC_NAMES, isMetricName } from './metric-names.ts'
import type { MetricName } from './metric-names.ts'
import { percentiles, percentilesOfBuckets } from './summary.ts'

/**
 * One time window of one recorder, as plain JSON-safe data: what peers exchange and what the report
 * stores. Windows from several peers (or several windows) merge by addition (`mergeSnapshots`).
 *
 * - `index`: window number since the run start; `start_ms` = index × duration, relative to the run
 *   start (monotonic clocks differ between hosts, so absolute times would not merge).
 * - `closed`: the recorder has seen time past the window's end. A closed window can still change a
 *   little (a drop counted by its intended time, a late record()); `revision` grows with every
 *   change, so a receiver keyed by (peer, index) keeps the snapshot with the highest revision.
 * - `histograms`: only the metrics with at least one value; a missing metric is an empty histogram.
 */
export interface WindowSnapshot {
  index: number
  start_ms: number
  duration_ms: number
  closed: boolean
  revision: number
  counters: Counters
  histograms: Partial<Record<MetricName, string>>
}

/** A validated window with its histograms decoded (every metric present, possibly empty). */
export interface DecodedWindow {
  index: number
  start_ms: number
  duration_ms: number
  closed: boolean
  revision: number
  counters: Counters
  histograms: Record<MetricName, Histogram>
}

/** One row per window for the report's time series. Rates are per second of window duration. */
export interface WindowSummaryRow {
  t_s: number
  sent: number
  completed: number
  failed: number
  dropped: number
  /** Completed (ok) requests per second. */
  requests_per_s: number
  output_tokens_per_s: number
  ttft_p50_ms: number | null
  ttft_p99_ms: number | null
  itl_p50_ms: number | null
  itl_p99_ms: number | null
  e2e_p50_ms: number | null
  e2e_p99_ms: number | null
}

/**
 * Validates a window snapshot from an untrusted source and decodes its histograms. Throws
 * MetricsDecodeError: code 'ERR_BAD_SNAPSHOT' for a bad shape or counter, 'ERR_BAD_HISTOGRAM' for a
 * bad histogram. Unknown histogram names are ignored (a newer peer may record more metrics).
 */
export function decodeSnapshot(value: unknown, where = 'window snapshot'): DecodedWindow {
  const s = parseSnapshot(value, where)
  const histograms = {} as Record<MetricName, Histogram>
  for (const m of METRIC_NAMES) {
    const h = createHistogram()
    const enc = s.histograms[m]
    if (enc !== undefined) decodeInto(h, enc, `${where} histogram ${m}`)
    histograms[m] = h
  }
  return { ...s, histograms }
}

/**
 * Adds windows together: counters and histograms bucket by bucket (lossless). For the same window
 * index from several peers this is the mesh-wide window; for different indices the result covers
 * their union (lowest index and start, duration up to the latest end). `closed` holds when every input
 * is closed; `revision` is the sum. Inputs are validated as in `decodeSnapshot`.
 */
export function mergeSnapshots(snapshots: readonly unknown[], where = 'mergeSnapshots'): WindowSnapshot {
  if (snapshots.length === 0) throw new RangeError(`${where}: nothing to merge`)
  const parsed = snapshots.map((s, i) => parseSnapshot(s, `${where} input ${i}`))
  const counters = emptyCounters()
  const acc: Partial<Record<MetricName, Histogram>> = {}
  let start = Infinity
  let end = -Infinity
  let index = Infinity
  let revision = 0
  let closed = true
  parsed.forEach((s, i) => {
    addCounters(counters, s.counters)
    index = Math.min(index, s.index)
    start = Math.min(start, s.start_ms)
    end = Math.max(end, s.start_ms + s.duration_ms)
    revision += s.revision
    closed &&= s.closed
    for (const m of METRIC_NAMES) {
      const enc = s.histograms[m]
      if (enc === undefined) continue
      decodeInto((acc[m] ??= createHistogram()), enc, `${where} input ${i} histogram ${m}`)
    }
  })
  const histograms: Partial<Record<MetricName, string>> = {}
  for (const m of METRIC_NAMES) {
    const h = acc[m]
    if (h !== undefined && h.totalCount > 0) histograms[m] = encodeHistogram(h)
  }
  return { index, start_ms: start, duration_ms: end - start, closed, revision, counters, histograms }
}

/** The per-window report row. Accepts a snapshot (histograms decoded on the fly) or a decoded window. */
export function windowSummaryRow(w: WindowSnapshot | DecodedWindow): WindowSummaryRow {
  const seconds = w.duration_ms / 1000
  const c = w.counters
  const [ttft50, ttft99] = p50p99(w, 'ttft')
  const [itl50, itl99] = p50p99(w, 'itl')
  const [e2e50, e2e99] = p50p99(w, 'e2e')
  return {
    t_s: w.start_ms / 1000,
    sent: c.sent,
    completed: c.completed,
    failed: c.failed,
    dropped: c.dropped,
    requests_per_s: seconds > 0 ? c.completed / seconds : 0,
    output_tokens_per_s: seconds > 0 ? c.output_tokens / seconds : 0,
    ttft_p50_ms: ttft50,
    ttft_p99_ms: ttft99,
    itl_p50_ms: itl50,
    itl_p99_ms: itl99,
    e2e_p50_ms: e2e50,
    e2e_p99_ms: e2e99
  }
}

function p50p99(w: WindowSnapshot | DecodedWindow, m: MetricName): Array<number | null> {
  const v = w.histograms[m]
  if (v === undefined) return [null, null]
  if (typeof v !== 'string') return percentiles(v, [50, 99], 1000)
  return percentilesOfBuckets(decodeBuckets(v, `window ${w.index} histogram ${m}`), [50, 99], 1000)
}

interface ParsedSnapshot extends Omit<WindowSnapshot, 'histograms'> {
  histograms: Partial<Record<MetricName, string>>
}

function parseSnapshot(value: unknown, where: string): ParsedSnapshot {
  const fail = (problem: string): never => {
    throw new MetricsDecodeError('ERR_BAD_SNAPSHOT', `${where}: ${problem}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('expected an object')
  const o = value as Record<string, unknown>
  const index = o.index
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
    fail(`"index" must be a non-negative integer, got ${JSON.stringify(index)}`)
  }
  const start = o.start_ms
  if (typeof start !== 'number' || !Number.isFinite(start) || start < 0) {
    fail(`"start_ms" must be a non-negative number, got ${JSON.stringify(start)}`)
  }
  const duration = o.duration_ms
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration <= 0) {
    fail(`"duration_ms" must be a positive number, got ${JSON.stringify(duration)}`)
  }
  if (typeof o.closed !== 'boolean') fail(`"closed" must be a boolean, got ${JSON.stringify(o.closed)}`)
  const revision = o.revision
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
    fail(`"revision" must be a non-negative integer, got ${JSON.stringify(revision)}`)
  }
  const counters = parseCounters(o.counters, where)
  const hs = o.histograms
  if (typeof hs !== 'object' || hs === null || Array.isArray(hs)) fail('"histograms" must be an object')
  const histograms: Partial<Record<MetricName, string>> = {}
  for (const [k, v] of Object.entries(hs as object)) {
    if (!isMetricName(k)) continue
    if (typeof v !== 'string') fail(`histogram "${k}" must be a base64 string`)
    histograms[k] = v as string
  }
  return {
    index: index as number,
    start_ms: start as number,
    duration_ms: duration as number,
    closed: o.closed as boolean,
    revision: revision as number,
    counters,
    histograms
  }
}
