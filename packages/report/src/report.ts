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
}

export type { Slo }
