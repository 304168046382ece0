import {
  METRIC_NAMES, HISTOGRAM_CONFIG, encodeHistogram, summarize, metricScale, goodput, checkSloGate,
  windowSummaryRow
} from '@loadmesh/metrics'
import type { RunRecorder, Slo } from '@loadmesh/metrics'
import { REPORT_SCHEMA, LATENCY_METRICS } from './report.ts'
import type { Report, LatencyMetric } from './report.ts'
import { collectWarnings } from './warnings.ts'
import { productionWeighted, reportBreakdown } from './build-breakdown.ts'

export interface BuildReportInput {
  runId: string
  config: { slo: Slo }
  /** Wall-clock epoch ms. */
  startedAt: number
  endedAt: number
  durationS: number
  plannedDurationS: number
  targetRate: number | null
  recorder: RunRecorder
  injector: Report['injector']
  tokenizer: string
  interrupted: boolean
  version?: string
}

export function buildReport (i: BuildReportInput): Report {
  const cum = i.recorder.cumulative()
  const c = cum.counters
  const d = i.durationS > 0 ? i.durationS : Number.NaN
  const perS = (n: number): number => (Number.isFinite(d) ? n / d : 0)
  const latency = {} as Record<LatencyMetric, Report['latency_ms'][LatencyMetric]>
  for (const m of LATENCY_METRICS) latency[m] = summarize(cum.histograms[m], { scale: metricScale(m) })
  const histograms: Record<string, string> = {}
  for (const m of METRIC_NAMES) histograms[m] = encodeHistogram(cum.histograms[m])
  const hasSlo = Object.keys(i.config.slo).length > 0
  const gate = hasSlo ? checkSloGate(i.config.slo, { counters: c, histograms: cum.histograms, slo: cum.slo }) : null
  const report: Report = {
    schema: REPORT_SCHEMA,
    run_id: i.runId,
    started_at: new Date(i.startedAt).toISOString(),
    ended_at: new Date(i.endedAt).toISOString(),
    duration_s: round(i.durationS, 3),
    planned_duration_s: i.plannedDurationS,
    interrupted: i.interrupted,
    tool: { name: 'loadmesh', version: i.version ?? '0.1.0', node: process.version, tokenizer: i.tokenizer },
    config: i.config,
    requests: {
      scheduled: c.scheduled,
      sent: c.sent,
      completed: c.completed,
      failed: c.failed,
      dropped: c.dropped,
      error_rate: c.sent > 0 ? c.failed / c.sent : 0,
      errors: { ...c.errors }
    },
    throughput: {
      requests_per_s: round(perS(c.completed), 3),
      input_tokens_per_s: round(perS(c.input_tokens), 1),
      output_tokens_per_s: round(perS(c.output_tokens), 1),
      target_rate: i.targetRate,
      achieved_rate: round(i.plannedDurationS > 0 ? c.sent / i.plannedDurationS : 0, 3)
    },
    tokens: {
      input_total: c.input_tokens,
      output_total: c.output_tokens,
      reasoning_total: c.reasoning_tokens,
      output_tokens_source: { usage: c.tokens_from_usage, counted: c.tokens_counted },
      tokens_per_chunk: c.content_chunks > 0 ? round(c.streamed_output_tokens / c.content_chunks, 3) : null,
      output_per_request: summarize(cum.histograms.output_tokens, { scale: 1 })
    },
    latency_ms: latency,
    goodput: goodput(c, i.durationS, hasSlo ? i.config.slo : undefined),
    slo_gate: gate === null ? null : { pass: gate.pass, percentile: gate.percentile, reasons: gate.reasons },
    injector: i.injector,
    histogram_config: {
      unit: 'us',
      lowest: HISTOGRAM_CONFIG.lowestDiscernibleValue,
      highest: HISTOGRAM_CONFIG.highestTrackableValue,
      significant_digits: HISTOGRAM_CONFIG.numberOfSignificantValueDigits,
      encoding: 'HdrHistogram compressed V2, base64'
    },
    histograms,
    windows: i.recorder.windows().map(windowSummaryRow),
    warnings: []
  }
  const breakdown = i.recorder.breakdown()
  if (breakdown !== null) {
    const sections = reportBreakdown(breakdown)
    if (sections !== undefined) report.breakdown = sections
    const weighted = productionWeighted(breakdown)
    if (weighted !== undefined) report.production_weighted = weighted
  }
  report.warnings = collectWarnings(report, c.clamped)
  for (const [dim, n] of Object.entries(report.breakdown?.overflow ?? {})) {
    report.warnings.push(`breakdown by ${dim}: more distinct values than kept; ${n} request(s) counted under "(other)"`)
  }
  return report
}

function round (x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
