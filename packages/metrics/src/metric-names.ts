/**
 * The per-request metrics loadmesh records, each in its own histogram. Definitions (and the names
 * other tools use for them) are in docs/metrics.md; the derivation is in derive-metrics.ts.
 */
export const METRIC_NAMES = [
  'schedule_lag',
  'ttft',
  'ttft_content',
  'ttft_service',
  'itl',
  'tpot',
  'e2e',
  'e2e_service',
  'output_tokens'
] as const

export type MetricName = (typeof METRIC_NAMES)[number]

/** Latency metrics are stored in µs and reported in ms; token counts are stored and reported raw. */
export type MetricUnit = 'ms' | 'tokens'

export const METRIC_UNITS: Readonly<Record<MetricName, MetricUnit>> = Object.freeze({
  schedule_lag: 'ms',
  ttft: 'ms',
  ttft_content: 'ms',
  ttft_service: 'ms',
  itl: 'ms',
  tpot: 'ms',
  e2e: 'ms',
  e2e_service: 'ms',
  output_tokens: 'tokens'
})

/** The `scale` to pass to `summarize` for a metric: 1000 (µs → ms) or 1 (raw counts). */
export function metricScale(name: MetricName): number {
  return METRIC_UNITS[name] === 'ms' ? 1000 : 1
}

export function isMetricName(s: string): s is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(s)
}
