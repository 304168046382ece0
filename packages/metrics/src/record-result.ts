import { bump, errorKey } from './counters.ts'
import type { Counters } from './counters.ts'
import type { DerivedMetrics } from './derive-metrics.ts'
import { recordMs, recordValue } from './histogram.ts'
import type { Histogram } from './histogram.ts'
import type { MetricName } from './metric-names.ts'
import type { RequestResult } from './request-result.ts'

/** Gives the histogram a value of `metric` goes to (created on first use by the caller). */
export type HistogramFor = (metric: MetricName) => Histogram

/**
 * Adds one finished request to a set of counters and histograms: completed or failed (by error
 * class), tokens and their source (ok requests), the SLO verdict, and every defined metric value.
 */
export function recordResult(
  counters: Counters,
  histogramFor: HistogramFor,
  r: RequestResult,
  d: DerivedMetrics,
  sloMet: boolean
): void {
  if (r.ok) {
    counters.completed++
    counters.input_tokens += safeCount(r.inputTokens)
    counters.output_tokens += safeCount(r.outputTokens)
    counters.reasoning_tokens += safeCount(r.reasoningTokens)
    if (r.outputTokensSource === 'usage') counters.tokens_from_usage++
    else counters.tokens_counted++
    if (r.streamed) {
      counters.content_chunks += safeCount(r.contentChunks)
      counters.streamed_output_tokens += safeCount(r.outputTokens)
    }
  } else {
    counters.failed++
    bump(counters.errors, errorKey(r.errorClass))
  }
  if (sloMet) counters.slo_met++
  ms(counters, histogramFor, 'schedule_lag', d.schedule_lag)
  ms(counters, histogramFor, 'ttft', d.ttft)
  ms(counters, histogramFor, 'ttft_content', d.ttft_content)
  ms(counters, histogramFor, 'ttft_service', d.ttft_service)
  ms(counters, histogramFor, 'tpot', d.tpot)
  ms(counters, histogramFor, 'e2e', d.e2e)
  ms(counters, histogramFor, 'e2e_service', d.e2e_service)
  if (d.itl.length > 0) {
    const h = histogramFor('itl')
    let clamped = 0
    for (const gap of d.itl) if (recordMs(h, gap) === 'clamped') clamped++
    if (clamped > 0) bump(counters.clamped, 'itl', clamped)
  }
  if (d.output_tokens !== null && recordValue(histogramFor('output_tokens'), d.output_tokens) === 'clamped') {
    bump(counters.clamped, 'output_tokens')
  }
}

function ms(counters: Counters, histogramFor: HistogramFor, metric: MetricName, value: number | null): void {
  if (value === null) return
  if (recordMs(histogramFor(metric), value) === 'clamped') bump(counters.clamped, metric)
}

/** Token counts from the injector should be non-negative integers; anything else must not poison sums. */
function safeCount(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0
}
