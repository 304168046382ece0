export type { RequestResult, RequestLabels } from './request-result.ts'
export { emptyResult } from './request-result.ts'

export { MetricsDecodeError, HistogramConfigError, SloSpecError } from './errors.ts'

export type { Histogram, RecordOutcome, CreateHistogramOptions } from './histogram.ts'
export {
  HISTOGRAM_CONFIG,
  HISTOGRAM_MAX_VALUE,
  createHistogram,
  recordMs,
  recordValue,
  mergeInto,
  copyHistogram,
  hasStandardConfig,
  recordValueCount
} from './histogram.ts'
export { encodeHistogram, decodeHistogram, decodeInto, MAX_ENCODED_HISTOGRAM_CHARS } from './histogram-codec.ts'

export type { Summary, SummaryPercentile, SummarizeOptions } from './summary.ts'
export { summarize, percentiles, PERCENTILES } from './summary.ts'

export type { MetricName, MetricUnit } from './metric-names.ts'
export { METRIC_NAMES, METRIC_UNITS, metricScale, isMetricName } from './metric-names.ts'

export type { DerivedMetrics } from './derive-metrics.ts'
export { deriveMetrics } from './derive-metrics.ts'

export type { Counters, CounterField } from './counters.ts'
export { COUNTER_FIELDS, emptyCounters, addCounters } from './counters.ts'

export type { WindowSnapshot, DecodedWindow, WindowSummaryRow } from './window-snapshot.ts'
export { decodeSnapshot, mergeSnapshots, windowSummaryRow } from './window-snapshot.ts'

export type { RunRecorder, RunRecorderOptions, Cumulative, LiveView } from './run-recorder.ts'
export { createRunRecorder } from './run-recorder.ts'

export type { Slo } from './slo.ts'
export { parseSlo, formatSlo, meetsSlo } from './slo.ts'

export type { Goodput, SloGateCheck, SloGateResult, GateInput } from './goodput.ts'
export { goodput, checkSloGate } from './goodput.ts'

export type {
  Breakdown, BreakdownDimension, BreakdownMetric, BreakdownOptions, BreakdownRecorder, LabelStats, WeightedView
} from './breakdown.ts'
export {
  BREAKDOWN_DIMENSIONS, BREAKDOWN_METRICS, WEIGHT_UNIT, DEFAULT_MAX_LABEL_VALUES, OTHER_LABEL, NOT_ADVERSARIAL,
  breakdownMetricScale, createBreakdownRecorder
} from './breakdown.ts'

export type { MergeBreakdownOptions } from './breakdown-merge.ts'
export { mergeBreakdowns } from './breakdown-merge.ts'
export type { BreakdownSnapshot } from './breakdown-codec.ts'
export {
  BreakdownDecodeError, MAX_ENCODED_BREAKDOWN_BYTES, encodeBreakdownHistograms, encodeBreakdownSnapshot, decodeBreakdownSnapshot, newerSnapshot
} from './breakdown-codec.ts'
