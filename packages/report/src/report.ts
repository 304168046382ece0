import type { Summary, WindowSummaryRow, Goodput, Slo } from '@loadmesh/metrics'

export const REPORT_SCHEMA = 'loadmesh.report/v1'

/** Latency summaries in the report, in milliseconds. */
export const LATENCY_METRICS = ['schedule_lag', 'ttft', 'ttft_content', 'ttft_service', 'itl', 'tpot', 'e2e', 'e2e_service'] as const
export type LatencyMetric = (typeof LATENCY_METRICS)[number]

/**
 * The JSON report (docs/report-schema.md). Plain data: it is written to disk, read by people and
 * tools, and later merged across peers, so every field is JSON-safe and no number is ambiguous.
 */
export interface Report {
  schema: typeof REPORT_SCHEMA
  run_id: string
  started_at: string
  ended_at: string
  /** From the first intended send to the last response, seconds. */
  duration_s: number
  planned_duration_s: number
  interrupted: boolean
  tool: { name: 'loadmesh'; version: string; node: string; tokenizer: string }
  /** The run's settings (RunConfig); secrets are never included. */
  config: unknown
  requests: {
    scheduled: number
    sent: number
    completed: number
    failed: number
    dropped: number
    /** failed / sent (0 when nothing was sent). */
    error_rate: number
    errors: Record<string, number>
  }
  throughput: {
    /** Completed (ok) requests per second of duration_s. */
    requests_per_s: number
    input_tokens_per_s: number
    output_tokens_per_s: number
    /** Open loop: the configured arrival rate; null for closed loop. */
    target_rate: number | null
    /** Sent requests per second of the planned duration (compare with target_rate). */
    achieved_rate: number
  }
  tokens: {
    input_total: number
    output_total: number
    reasoning_total: number
    /** How N_out was known: from the server's usage, or counted by loadmesh. */
    output_tokens_source: { usage: number; counted: number }
    /** Output tokens per content chunk over streamed requests (> 1 with speculative decoding / multi-step). */
    tokens_per_chunk: number | null
    output_per_request: Summary
  }
  latency_ms: Record<LatencyMetric, Summary>
  goodput: Goodput
  slo_gate: { pass: boolean; percentile: string; reasons: string[] } | null
  injector: {
    event_loop_delay_ms: { p50: number; p99: number; max: number; mean: number }
    cpu: { user_s: number; system_s: number; utilisation: number }
  }
  histogram_config: { unit: 'us'; lowest: number; highest: number; significant_digits: number; encoding: string }
  /** Cumulative histograms, base64 of HDR's compressed encoding; latency in µs, output_tokens raw. */
  histograms: Record<string, string>
  windows: WindowSummaryRow[]
  /** Things a reader must know before trusting the numbers (generator overload, drops, ...). */
  warnings: string[]
  /**
   * Results per label value (endpoint, class label, adversarial kind), when the run had more than
   * one kind of request. Optional: reports without it are still v1.
   */
  breakdown?: ReportBreakdown
  /** The production view of a long-tail (oversampled) run: every request weighted by its importance weight. */
  production_weighted?: ProductionWeighted
}

/** Latency summaries kept per label value (ms). */
export const BREAKDOWN_LATENCY_METRICS = ['ttft', 'tpot', 'itl', 'e2e'] as const
export type BreakdownLatencyMetric = (typeof BREAKDOWN_LATENCY_METRICS)[number]

/** One label value's results: the same summary shape as the totals. */
export interface BreakdownEntry {
  /** Finished requests with this label (sends are not labelled, so there is no `sent`). */
  requests: { completed: number; failed: number; error_rate: number; errors: Record<string, number> }
  /** Sum of the importance weights (= completed + failed unless the run oversampled). */
  weight: number
  tokens: { input_total: number; output_total: number; input_per_request: Summary; output_per_request: Summary }
  latency_ms: Record<BreakdownLatencyMetric, Summary>
  /** The entry's HDR histograms (same encoding as `histograms`; input_tokens and output_tokens raw): merge entries by adding these. */
  histograms: Record<string, string>
}

export interface ReportBreakdown {
  endpoint?: Record<string, BreakdownEntry>
  /** Keyed `name=value` (e.g. `intent=code`); a request counts under each of its labels. */
  class?: Record<string, BreakdownEntry>
  /** Keyed by kind; `none` holds the ordinary requests. */
  adversarial?: Record<string, BreakdownEntry>
  /** Requests filed under `(other)` because a dimension had reached its bound of distinct values. */
  overflow?: Record<string, number>
}

/**
 * Weighted view: each finished request counts with weight w = p_production / p_sampled. Summaries'
 * `count` is the sum of weights; percentiles are weighted percentiles (see docs/report-schema.md).
 */
export interface ProductionWeighted {
  weight: number
  completed_weight: number
  failed_weight: number
  /** failed_weight / weight. */
  error_rate: number
  errors: Record<string, number>
  tokens: { input_per_request: Summary; output_per_request: Summary }
  latency_ms: Record<BreakdownLatencyMetric, Summary>
  /** Histogram counts per unit of weight (2^20). */
  weight_unit: number
  histograms: Record<string, string>
}

export type { Slo }
