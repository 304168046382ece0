export type {
  Report, LatencyMetric, BreakdownEntry, ReportBreakdown, ProductionWeighted, BreakdownLatencyMetric
} from './report.ts'
export { REPORT_SCHEMA, LATENCY_METRICS, BREAKDOWN_LATENCY_METRICS } from './report.ts'
export { buildReport } from './build-report.ts'
export type { BuildReportInput } from './build-report.ts'
export { renderSummary, renderBreakdown } from './render-summary.ts'
export { reportBreakdown, productionWeighted } from './build-breakdown.ts'
export { evaluateGates } from './gates.ts'
export type { GateOptions, GateVerdict } from './gates.ts'
export { WARN } from './warnings.ts'
