import { createBreakdownRecorder } from './breakdown.ts'
import type { Breakdown, BreakdownOptions, BreakdownRecorder } from './breakdown.ts'
import { copyCounters, emptyCounters } from './counters.ts'
import type { Counters } from './counters.ts'
import { deriveMetrics } from './derive-metrics.ts'
import { copyHistogram, createHistogram, mergeInto } from './histogram.ts'
import type { Histogram } from './histogram.ts'
import { decodeInto, encodeHistogram } from './histogram-codec.ts'
import { METRIC_NAMES } from './metric-names.ts'
import type { MetricName } from './metric-names.ts'
import { recordResult } from './record-result.ts'
import type { HistogramFor } from './record-result.ts'
import type { RequestResult } from './request-result.ts'
import { meetsSlo } from './slo.ts'
import type { Slo } from './slo.ts'
import { percentiles } from './summary.ts'
import type { WindowSnapshot } from './window-snapshot.ts'

export interface RunRecorderOptions {
  /** Run start, monotonic ms (Clock.now()); window 0 starts here. */
  startAt: number
  /** Window length in ms. Default 1000. */
  windowMs?: number
  /** Per-request SLO; when given, `counters.slo_met` counts the finished requests that met it. */
  slo?: Slo
  /**
   * How many of the newest windows keep live histograms (default 2: the current one and the one
   * before). Older windows are kept encoded (a few KB instead of ~95 KB per metric) and are
   * decoded again only if a late result lands in them.
   */
  hotWindows?: number
  /**
   * Results per endpoint / class / adversarial kind and the production-weighted view, from each
   * result's `labels` (breakdown.ts). Cumulative only (no per-window breakdown). Default: none.
   */
  breakdown?: BreakdownOptions
}

/** Everything recorded so far. The histograms and counters are copies the caller may keep or change. */
export interface Cumulative {
  counters: Counters
  histograms: Record<MetricName, Histogram>
  slo: Slo | undefined
  /** Earliest intended send time seen, ms after startAt (null before any request). */
  first_intended_ms: number | null
  /** Latest end of a finished request, ms after startAt (null before any). */
  last_end_ms: number | null
}

/** A cheap view for a live progress panel: the last few seconds, merged from windows. */
export interface LiveView {
  /** The view's "now", ms after startAt. */
  now_ms: number
  /** The time the counts and rates below cover (whole windows back from now, so ≥ the asked span). */
  span_ms: number
  sent: number
  completed: number
  failed: number
  dropped: number
  requests_per_s: number
  output_tokens_per_s: number
  ttft_p50_ms: number | null
  ttft_p99_ms: number | null
  itl_p50_ms: number | null
  itl_p99_ms: number | null
  /** Whole-run counts; in_flight = sent − completed − failed. */
  total: { scheduled: number; sent: number; completed: number; failed: number; dropped: number; in_flight: number; slo_met: number }
}

export interface RunRecorder {
  readonly startAt: number
  readonly windowMs: number
  readonly slo: Slo | undefined
  /** A request's intended send time arrived (counted in the window of `intendedAt`). */
  onScheduled(intendedAt: number): void
  /** A request was not sent because a cap was hit (window of `intendedAt`). */
  onDropped(intendedAt: number): void
  /** A request was handed to the connection (window of `sentAt`). The only source of `sent`. */
  onSent(sentAt: number): void
  /**
   * A request finished, ok or not. Its histogram values, completed/failed, tokens and SLO verdict go
   * to the window of `endAt` (falling back to the latest finite of lastTokenAt, sentAt, intendedAt).
   */
  record(result: RequestResult): void
  cumulative(): Cumulative
  /** The cumulative counters alone (a copy): what a status line needs, without copying histograms. */
  counters(): Counters
  /**
   * Every window from 0 to the newest one touched, in order; windows nothing happened in are included
   * (empty), so a stall shows up as a gap in the time series. `now` (monotonic ms) closes windows
   * that ended before it; otherwise the latest sent/end time seen is used.
   */
  windows(now?: number): WindowSnapshot[]
  /**
   * Counts, rates and p50/p99 of ttft and itl over the windows overlapping the last `lastMs`
   * (default 5000) before `now` (default: the latest sent/end time seen). Percentiles come from
   * the windows' merged histograms, never from averaging per-window percentiles.
   */
  live(lastMs?: number, now?: number): LiveView
  /** The per-label breakdown so far (copies), or null when the recorder keeps none. */
  breakdown(): Breakdown | null
}

/**
 * Window index limit: one absurd timestamp must not make `windows()` return millions of empty
 * windows. Events beyond it (55 h of 1 s windows; longer soaks should use longer windows) are
 * counted in the last window.
 */
export const MAX_WINDOW_INDEX = 200_000

interface WindowState {
  index: number
  counters: Counters
  revision: number
  /** Live histograms, or null when the window is frozen into `encoded`. */
  hot: Partial<Record<MetricName, Histogram>> | null
  encoded: Partial<Record<MetricName, string>> | null
  /** Made once per window, not per recorded request. */
  histogramFor: HistogramFor
}

export function createRunRecorder(options: RunRecorderOptions): RunRecorder {
  return new Recorder(options)
}

class Recorder implements RunRecorder {
  readonly startAt: number
  readonly windowMs: number
  readonly slo: Slo | undefined
  private readonly hotWindows: number
  private readonly windowsByIndex = new Map<number, WindowState>()
  private readonly hotSet = new Set<WindowState>()
  private readonly pool: Histogram[] = []
  private readonly cum = emptyCounters()
  private readonly cumHist: Record<MetricName, Histogram>
  private readonly cumHistogramFor: HistogramFor = (m) => this.cumHist[m]
  private maxIndex = -1
  private watermark: number
  private watermarkIndex = 0
  private firstIntended = Infinity
  private lastEnd = -Infinity
  private liveTtft: Histogram | undefined
  private liveItl: Histogram | undefined
  private readonly labelled: BreakdownRecorder | null

  constructor(o: RunRecorderOptions) {
    if (!Number.isFinite(o.startAt)) throw new RangeError(`createRunRecorder: startAt must be a finite time, got ${o.startAt}`)
    const windowMs = o.windowMs ?? 1000
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new RangeError(`createRunRecorder: windowMs must be a positive number, got ${o.windowMs}`)
    }
    const hot = o.hotWindows ?? 2
    if (!Number.isInteger(hot) || hot < 1) {
      throw new RangeError(`createRunRecorder: hotWindows must be an integer ≥ 1, got ${o.hotWindows}`)
    }
    this.startAt = o.startAt
    this.windowMs = windowMs
    this.slo = o.slo === undefined ? undefined : { ...o.slo }
    this.hotWindows = hot
    this.watermark = o.startAt
    this.cumHist = {} as Record<MetricName, Histogram>
    for (const m of METRIC_NAMES) this.cumHist[m] = createHistogram()
    const b = o.breakdown
    this.labelled = b !== undefined && ((b.dimensions?.length ?? 0) > 0 || b.weighted === true) ? createBreakdownRecorder(b) : null
  }

  onScheduled(intendedAt: number): void {
    const w = this.windowAt(intendedAt)
    w.counters.scheduled++
    w.revision++
    this.cum.scheduled++
    if (intendedAt < this.firstIntended) this.firstIntended = intendedAt
  }

  onDropped(intendedAt: number): void {
    const w = this.windowAt(intendedAt)
    w.counters.dropped++
    w.revision++
    this.cum.dropped++
  }

  onSent(sentAt: number): void {
    const w = this.windowAt(sentAt)
    w.counters.sent++
    w.revision++
    this.cum.sent++
    this.advance(sentAt)
  }

  record(r: RequestResult): void {
    const t = eventTime(r)
    const d = deriveMetrics(r)
    const met = this.slo !== undefined && meetsSlo(this.slo, r.ok, r.streamed, d)
    const w = this.windowAt(t)
    recordResult(w.counters, w.histogramFor, r, d, met)
    w.revision++
    recordResult(this.cum, this.cumHistogramFor, r, d, met)
    this.labelled?.record(r, d)
    if (Number.isFinite(r.intendedAt) && r.intendedAt < this.firstIntended) this.firstIntended = r.intendedAt
    if (Number.isFinite(t) && t > this.lastEnd) this.lastEnd = t
    this.advance(t)
  }

  counters(): Counters {
    return copyCounters(this.cum)
  }

  cumulative(): Cumulative {
    const histograms = {} as Record<MetricName, Histogram>
    for (const m of METRIC_NAMES) histograms[m] = copyHistogram(this.cumHist[m])
    return {
      counters: copyCounters(this.cum),
      histograms,
      slo: this.slo === undefined ? undefined : { ...this.slo },
      first_intended_ms: Number.isFinite(this.firstIntended) ? this.firstIntended - this.startAt : null,
      last_end_ms: Number.isFinite(this.lastEnd) ? this.lastEnd - this.startAt : null
    }
  }

  windows(now?: number): WindowSnapshot[] {
    if (now !== undefined) this.advance(now)
    const out: WindowSnapshot[] = []
    for (let i = 0; i <= this.maxIndex; i++) {
      const w = this.windowsByIndex.get(i)
      const histograms: Partial<Record<MetricName, string>> = {}
      if (w?.hot != null) {
        for (const m of METRIC_NAMES) {
          const h = w.hot[m]
          if (h !== undefined && h.totalCount > 0) histograms[m] = encodeHistogram(h)
        }
      } else if (w?.encoded != null) {
        Object.assign(histograms, w.encoded)
      }
      out.push({
        index: i,
        start_ms: i * this.windowMs,
        duration_ms: this.windowMs,
        closed: this.startAt + (i + 1) * this.windowMs <= this.watermark,
        revision: w?.revision ?? 0,
        counters: w === undefined ? emptyCounters() : copyCounters(w.counters),
        histograms
      })
    }
    return out
  }

  live(lastMs = 5000, now?: number): LiveView {
    if (now !== undefined) this.advance(now)
    const at = now ?? this.watermark
    const last = this.indexOf(at)
    const first = Math.min(last, this.indexOf(at - Math.max(0, lastMs)))
    const ttft = (this.liveTtft ??= createHistogram())
    const itl = (this.liveItl ??= createHistogram())
    ttft.reset()
    itl.reset()
    let sent = 0
    let completed = 0
    let failed = 0
    let dropped = 0
    let outputTokens = 0
    for (let i = first; i <= last; i++) {
      const w = this.windowsByIndex.get(i)
      if (w === undefined) continue
      sent += w.counters.sent
      completed += w.counters.completed
      failed += w.counters.failed
      dropped += w.counters.dropped
      outputTokens += w.counters.output_tokens
      this.mergeWindowMetric(ttft, w, 'ttft')
      this.mergeWindowMetric(itl, w, 'itl')
    }
    const spanMs = Math.max(at - (this.startAt + first * this.windowMs), 0)
    const seconds = spanMs / 1000
    const [ttft50, ttft99] = percentiles(ttft, [50, 99], 1000)
    const [itl50, itl99] = percentiles(itl, [50, 99], 1000)
    const c = this.cum
    return {
      now_ms: at - this.startAt,
      span_ms: spanMs,
      sent,
      completed,
      failed,
      dropped,
      requests_per_s: seconds > 0 ? completed / seconds : 0,
      output_tokens_per_s: seconds > 0 ? outputTokens / seconds : 0,
      ttft_p50_ms: ttft50,
      ttft_p99_ms: ttft99,
      itl_p50_ms: itl50,
      itl_p99_ms: itl99,
      total: {
        scheduled: c.scheduled,
        sent: c.sent,
        completed: c.completed,
        failed: c.failed,
        dropped: c.dropped,
        in_flight: Math.max(0, c.sent - c.completed - c.failed),
        slo_met: c.slo_met
      }
    }
  }

  breakdown(): Breakdown | null {
    return this.labelled === null ? null : this.labelled.snapshot()
  }

  private mergeWindowMetric(target: Histogram, w: WindowState, m: MetricName): void {
    if (w.hot !== null) {
      const h = w.hot[m]
      if (h !== undefined) mergeInto(target, h)
    } else {
      const enc = w.encoded?.[m]
      if (enc !== undefined) decodeInto(target, enc, `window ${w.index} ${m}`)
    }
  }

  private indexOf(t: number): number {
    if (!Number.isFinite(t)) return 0
    const i = Math.floor((t - this.startAt) / this.windowMs)
    return i < 0 ? 0 : i > MAX_WINDOW_INDEX ? MAX_WINDOW_INDEX : i
  }

  private windowAt(t: number): WindowState {
    const index = this.indexOf(t)
    let w = this.windowsByIndex.get(index)
    if (w === undefined) {
      const ws: WindowState = { index, counters: emptyCounters(), revision: 0, hot: {}, encoded: null, histogramFor: (m) => this.windowHistogram(ws, m) }
      w = ws
      this.windowsByIndex.set(index, w)
      this.hotSet.add(w)
      if (index > this.maxIndex) this.maxIndex = index
    }
    return w
  }

  private windowHistogram(w: WindowState, m: MetricName): Histogram {
    if (w.hot === null) this.thaw(w)
    const hot = w.hot as Partial<Record<MetricName, Histogram>>
    let h = hot[m]
    if (h === undefined) {
      h = this.pool.pop() ?? createHistogram({ bits: 32 })
      hot[m] = h
    }
    return h
  }

  /** Moves time forward; windows that fell out of the hot range are encoded and their histograms pooled. */
  private advance(t: number): void {
    if (!(t > this.watermark)) return
    this.watermark = t
    const index = this.indexOf(t)
    if (index <= this.watermarkIndex) return
    this.watermarkIndex = index
    const keepFrom = index - this.hotWindows + 1
    for (const w of this.hotSet) if (w.index < keepFrom) this.freeze(w)
  }

  private freeze(w: WindowState): void {
    const hot = w.hot
    if (hot === null) return
    const encoded: Partial<Record<MetricName, string>> = {}
    for (const m of METRIC_NAMES) {
      const h = hot[m]
      if (h === undefined) continue
      if (h.totalCount > 0) encoded[m] = encodeHistogram(h)
      this.release(h)
    }
    w.hot = null
    w.encoded = encoded
    this.hotSet.delete(w)
  }

  /** A late result for an old window: decode it back to live histograms (it refreezes as time moves on). */
  private thaw(w: WindowState): void {
    const hot: Partial<Record<MetricName, Histogram>> = {}
    for (const m of METRIC_NAMES) {
      const enc = w.encoded?.[m]
      if (enc === undefined) continue
      const h = this.pool.pop() ?? createHistogram({ bits: 32 })
      decodeInto(h, enc, `window ${w.index} ${m}`)
      hot[m] = h
    }
    w.hot = hot
    w.encoded = null
    this.hotSet.add(w)
  }

  private release(h: Histogram): void {
    // Enough spares for the hot windows' metrics; beyond that let the GC have them.
    if (this.pool.length < (this.hotWindows + 1) * METRIC_NAMES.length) {
      h.reset()
      this.pool.push(h)
    }
  }
}

/** The time a finished request is filed under: its end, or the latest thing known to have happened. */
function eventTime(r: RequestResult): number {
  if (Number.isFinite(r.endAt)) return r.endAt
  if (Number.isFinite(r.lastTokenAt)) return r.lastTokenAt
  if (Number.isFinite(r.sentAt)) return r.sentAt
  return r.intendedAt
}
