import { WEIGHT_UNIT, breakdownMetricScale, createHistogram, encodeBreakdownHistograms, summarize } from '@loadmesh/metrics'
import type { Breakdown, BreakdownMetric, LabelStats, Summary } from '@loadmesh/metrics'
import { BREAKDOWN_LATENCY_METRICS } from './report.ts'
import type { BreakdownEntry, BreakdownLatencyMetric, ProductionWeighted, ReportBreakdown } from './report.ts'

const EMPTY = createHistogram({ bits: 32 })

/**
 * The report's `breakdown` section: one entry per label value. A dimension with a single value
 * (every request to one endpoint, nothing adversarial) would only repeat the totals, so it is left
 * out; the section itself is absent when no dimension has two values.
 */
export function reportBreakdown(b: Breakdown): ReportBreakdown | undefined {
  const out: ReportBreakdown = {}
  let any = false
  for (const dim of ['endpoint', 'class', 'adversarial'] as const) {
    const values = b.dimensions[dim]
    if (values === undefined) continue
    const keys = Object.keys(values).sort()
    // Classes are partial labels (intent=..., region=...), so even one value says something.
    if (keys.length < (dim === 'class' ? 1 : 2)) continue
    const section: Record<string, BreakdownEntry> = {}
    for (const k of keys) section[k] = entry(values[k])
    out[dim] = section
    any = true
  }
  const overflow = Object.entries(b.overflow).filter(([, n]) => (n ?? 0) > 0)
  if (overflow.length > 0) out.overflow = Object.fromEntries(overflow) as Record<string, number>
  return any ? out : undefined
}

function entry(s: LabelStats): BreakdownEntry {
  const finished = s.completed + s.failed
  const latency = {} as Record<BreakdownLatencyMetric, Summary>
  for (const m of BREAKDOWN_LATENCY_METRICS) latency[m] = summarize(s.histograms[m] ?? EMPTY, { scale: 1000 })
  return {
    requests: { completed: s.completed, failed: s.failed, error_rate: finished > 0 ? s.failed / finished : 0, errors: { ...s.errors } },
    weight: round(s.weight, 6),
    tokens: {
      input_total: s.input_tokens,
      output_total: s.output_tokens,
      input_per_request: summarize(s.histograms.input_tokens ?? EMPTY),
      output_per_request: summarize(s.histograms.output_tokens ?? EMPTY)
    },
    latency_ms: latency,
    histograms: encodeBreakdownHistograms(s.histograms)
  }
}

/**
 * Weighted summaries: the histograms hold weight × WEIGHT_UNIT counts per value, so the
 * nearest-rank percentile over them is the weighted percentile (the smallest v whose cumulative
 * weight reaches p% of the total weight) and the mean is the weighted mean; `count` is turned back
 * into the sum of weights.
 */
export function productionWeighted(b: Breakdown): ProductionWeighted | undefined {
  const w = b.weighted
  if (w === null) return undefined
  const weighted = (m: BreakdownMetric): Summary => {
    const s = summarize(w.histograms[m] ?? EMPTY, { scale: breakdownMetricScale(m) })
    return { ...s, count: round(s.count / WEIGHT_UNIT, 3) }
  }
  const latency = {} as Record<BreakdownLatencyMetric, Summary>
  for (const m of BREAKDOWN_LATENCY_METRICS) latency[m] = weighted(m)
  const errors: Record<string, number> = {}
  for (const [k, v] of Object.entries(w.errors)) errors[k] = round(v, 6)
  return {
    weight: round(w.weight, 6),
    completed_weight: round(w.completed_weight, 6),
    failed_weight: round(w.failed_weight, 6),
    error_rate: w.weight > 0 ? w.failed_weight / w.weight : 0,
    errors,
    tokens: { input_per_request: weighted('input_tokens'), output_per_request: weighted('output_tokens') },
    latency_ms: latency,
    weight_unit: WEIGHT_UNIT,
    histograms: encodeBreakdownHistograms(w.histograms)
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
