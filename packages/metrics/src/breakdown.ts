import { bump, errorKey } from './counters.ts'
import type { DerivedMetrics } from './derive-metrics.ts'
import { copyHistogram, createHistogram, recordMs, recordValue, recordValueCount } from './histogram.ts'
import type { Histogram } from './histogram.ts'
import type { RequestResult } from './request-result.ts'

/** What results can be broken down by: the request's endpoint, its class labels, its adversarial kind. */
export type BreakdownDimension = 'endpoint' | 'class' | 'adversarial'
export const BREAKDOWN_DIMENSIONS: readonly BreakdownDimension[] = Object.freeze(['endpoint', 'class', 'adversarial'] as const)

/**
 * The metrics kept per label value and in the weighted view: the ones that differ between kinds of
 * request. input_tokens is not a window metric; it is here because oversampled prompt lengths are
 * what the production-weighted view must put back in proportion.
 */
export const BREAKDOWN_METRICS = ['ttft', 'tpot', 'itl', 'e2e', 'input_tokens', 'output_tokens'] as const
export type BreakdownMetric = (typeof BREAKDOWN_METRICS)[number]

/** Latencies are recorded in µs (scale 1000 to ms), token counts raw. */
export function breakdownMetricScale(m: BreakdownMetric): number {
  return m === 'input_tokens' || m === 'output_tokens' ? 1 : 1000
}

/**
 * Counts per unit of importance weight in the weighted histograms. HDR counts are integers, so a
 * request of weight w is recorded round(w × 2^20) times: weights down to ~1e-6 keep 6 significant
 * bits or more, and a 64-bit (float64) histogram holds 2^53 / 2^20 ≈ 8.6e9 requests of weight 1.
 */
export const WEIGHT_UNIT = 1_048_576

/** Distinct values kept per dimension by default; later new values are filed under OTHER_LABEL. */
export const DEFAULT_MAX_LABEL_VALUES = 32
export const OTHER_LABEL = '(other)'
/** The adversarial dimension's value for ordinary requests. */
export const NOT_ADVERSARIAL = 'none'

export interface BreakdownOptions {
  /** Dimensions to break results down by (none by default: the breakdown costs a histogram update per label). */
  dimensions?: readonly BreakdownDimension[]
  /** Keep the production-weighted view (importance weights of oversampled runs). */
  weighted?: boolean
  /**
   * Distinct values kept per dimension (default 32). A new value past the bound is counted under
   * '(other)', and `overflow` says how many requests went there, so memory stays bounded (each value
   * holds up to six ~95 KB histograms) whatever labels a log carries.
   */
  maxValues?: number
}

/** Finished requests with one label value. Counters cover finished requests only (no sent / scheduled: a send has no labels yet). */
export interface LabelStats {
  completed: number
  failed: number
  errors: Record<string, number>
  /** Tokens of ok requests. */
  input_tokens: number
  output_tokens: number
  /** Sum of the importance weights of the finished requests (= their count without long tail). */
  weight: number
  /** Latencies in µs, tokens raw; a metric with no value yet has no histogram. */
  histograms: Partial<Record<BreakdownMetric, Histogram>>
}

/**
 * The production view of an oversampled run: every request counts with its importance weight
 * (histogram counts are weight × WEIGHT_UNIT), so percentiles are weighted percentiles.
 * Adversarial requests are left out: they are not part of the production distribution.
 */
export interface WeightedView {
  /** Sums of weights over finished, completed and failed requests. */
  weight: number
  completed_weight: number
  failed_weight: number
  errors: Record<string, number>
  histograms: Partial<Record<BreakdownMetric, Histogram>>
}

export interface Breakdown {
  dimensions: Partial<Record<BreakdownDimension, Record<string, LabelStats>>>
  /** Requests filed under '(other)' per dimension because the dimension was full. */
  overflow: Partial<Record<BreakdownDimension, number>>
  weighted: WeightedView | null
}

export interface BreakdownRecorder {
  record(r: RequestResult, d: DerivedMetrics): void
  /** Copies (64-bit histograms) the caller may keep. */
  snapshot(): Breakdown
}

export function createBreakdownRecorder(o: BreakdownOptions): BreakdownRecorder {
  const maxValues = o.maxValues ?? DEFAULT_MAX_LABEL_VALUES
  if (!Number.isInteger(maxValues) || maxValues < 1) throw new RangeError(`breakdown maxValues must be an integer ≥ 1, got ${o.maxValues}`)
  for (const dim of o.dimensions ?? []) {
    if (!BREAKDOWN_DIMENSIONS.includes(dim)) throw new RangeError(`breakdown dimension "${String(dim)}" is not one of ${BREAKDOWN_DIMENSIONS.join(', ')}`)
  }
  return new Recorder(o.dimensions ?? [], o.weighted === true, maxValues)
}

class Recorder implements BreakdownRecorder {
  private readonly byDim = new Map<BreakdownDimension, Map<string, LabelStats>>()
  private readonly overflow: Partial<Record<BreakdownDimension, number>> = {}
  private readonly weighted: WeightedView | null
  private readonly maxValues: number

  constructor(dimensions: readonly BreakdownDimension[], weighted: boolean, maxValues: number) {
    for (const d of dimensions) this.byDim.set(d, new Map())
    this.maxValues = maxValues
    this.weighted = weighted ? { weight: 0, completed_weight: 0, failed_weight: 0, errors: {}, histograms: {} } : null
  }

  record(r: RequestResult, d: DerivedMetrics): void {
    const labels = r.labels
    const w = labels?.weight
    const weight = typeof w === 'number' && w > 0 && Number.isFinite(w) ? w : 1
    const endpoints = this.byDim.get('endpoint')
    if (endpoints !== undefined) this.add('endpoint', endpoints, r.endpoint, r, d, weight)
    const classes = this.byDim.get('class')
    if (classes !== undefined && labels?.classes !== undefined) {
      for (const k in labels.classes) this.add('class', classes, `${k}=${labels.classes[k]}`, r, d, weight)
    }
    const adversarial = this.byDim.get('adversarial')
    if (adversarial !== undefined) this.add('adversarial', adversarial, labels?.adversarial ?? NOT_ADVERSARIAL, r, d, weight)
    // Adversarial inputs are not production traffic: the production view leaves them out.
    if (this.weighted !== null && labels?.adversarial === undefined) this.addWeighted(this.weighted, r, d, weight)
  }

  snapshot(): Breakdown {
    const dimensions: Breakdown['dimensions'] = {}
    for (const [dim, values] of this.byDim) {
      const out: Record<string, LabelStats> = {}
      for (const [value, s] of values) out[value] = { ...s, errors: { ...s.errors }, histograms: copyAll(s.histograms) }
      dimensions[dim] = out
    }
    const wv = this.weighted
    return {
      dimensions,
      overflow: { ...this.overflow },
      weighted: wv === null ? null : { ...wv, errors: { ...wv.errors }, histograms: copyAll(wv.histograms) }
    }
  }

  private add(dim: BreakdownDimension, values: Map<string, LabelStats>, value: string, r: RequestResult, d: DerivedMetrics, weight: number): void {
    let s = values.get(value)
    if (s === undefined) {
      if (values.size >= this.maxValues + (values.has(OTHER_LABEL) ? 1 : 0)) {
        this.overflow[dim] = (this.overflow[dim] ?? 0) + 1
        value = OTHER_LABEL
        s = values.get(value)
      }
      if (s === undefined) {
        s = { completed: 0, failed: 0, errors: {}, input_tokens: 0, output_tokens: 0, weight: 0, histograms: {} }
        values.set(value, s)
      }
    }
    s.weight += weight
    if (!r.ok) {
      s.failed++
      bump(s.errors, errorKey(r.errorClass))
      return
    }
    s.completed++
    s.input_tokens += count(r.inputTokens)
    s.output_tokens += count(r.outputTokens)
    const h = s.histograms
    // Per-label histograms are 32-bit (half the memory); one label never sees 2^32 values in a bucket.
    if (d.ttft !== null) recordMs((h.ttft ??= createHistogram({ bits: 32 })), d.ttft)
    if (d.tpot !== null) recordMs((h.tpot ??= createHistogram({ bits: 32 })), d.tpot)
    if (d.e2e !== null) recordMs((h.e2e ??= createHistogram({ bits: 32 })), d.e2e)
    if (d.itl.length > 0) {
      const itl = (h.itl ??= createHistogram({ bits: 32 }))
      for (const gap of d.itl) recordMs(itl, gap)
    }
    recordValue((h.input_tokens ??= createHistogram({ bits: 32 })), count(r.inputTokens))
    if (d.output_tokens !== null) recordValue((h.output_tokens ??= createHistogram({ bits: 32 })), d.output_tokens)
  }

  private addWeighted(v: WeightedView, r: RequestResult, d: DerivedMetrics, weight: number): void {
    v.weight += weight
    if (!r.ok) {
      v.failed_weight += weight
      const k = errorKey(r.errorClass)
      v.errors[k] = (v.errors[k] ?? 0) + weight
      return
    }
    v.completed_weight += weight
    const n = Math.max(1, Math.round(weight * WEIGHT_UNIT))
    const h = v.histograms
    if (d.ttft !== null) recordValueCount((h.ttft ??= createHistogram()), d.ttft * 1000, n)
    if (d.tpot !== null) recordValueCount((h.tpot ??= createHistogram()), d.tpot * 1000, n)
    if (d.e2e !== null) recordValueCount((h.e2e ??= createHistogram()), d.e2e * 1000, n)
    if (d.itl.length > 0) {
      const itl = (h.itl ??= createHistogram())
      for (const gap of d.itl) recordValueCount(itl, gap * 1000, n)
    }
    recordValueCount((h.input_tokens ??= createHistogram()), count(r.inputTokens), n)
    if (d.output_tokens !== null) recordValueCount((h.output_tokens ??= createHistogram()), d.output_tokens, n)
  }
}

function copyAll(h: Partial<Record<BreakdownMetric, Histogram>>): Partial<Record<BreakdownMetric, Histogram>> {
  const out: Partial<Record<BreakdownMetric, Histogram>> = {}
  for (const m of BREAKDOWN_METRICS) {
    const x = h[m]
    if (x !== undefined) out[m] = copyHistogram(x)
  }
  return out
}

function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0
}
