import type { Counters } from './counters.ts'
import { SloSpecError } from './errors.ts'
import type { Histogram } from './histogram.ts'
import type { MetricName } from './metric-names.ts'
import { formatSlo, isEmptySlo } from './slo.ts'
import type { Slo } from './slo.ts'
import { PERCENTILES, percentiles } from './summary.ts'
import type { SummaryPercentile } from './summary.ts'

/**
 * Goodput: requests that met every SLO bound. The denominator `total` is every request that was due
 * and is settled: completed + failed + dropped. Failures, timeouts and drops are misses; they never
 * leave the denominator. Requests still in flight are in neither.
 */
export interface Goodput {
  slo: Slo | null
  met: number
  total: number
  /** met / total; null when total is 0. */
  ratio: number | null
  /** met per second of `durationS`; null when the duration is not positive. */
  requests_per_s: number | null
}

/** `counters.slo_met` must have been counted with `slo` (the recorder's `slo` option). */
export function goodput(counters: Counters, durationS: number, slo?: Slo): Goodput {
  const total = counters.completed + counters.failed + counters.dropped
  const met = counters.slo_met
  return {
    slo: slo === undefined ? null : { ...slo },
    met,
    total,
    ratio: total > 0 ? met / total : null,
    requests_per_s: durationS > 0 && Number.isFinite(durationS) ? met / durationS : null
  }
}

export interface SloGateCheck {
  metric: 'ttft' | 'tpot' | 'e2e' | 'itl'
  bound_ms: number
  /** The metric's percentile over the run (ok requests only), from the merged histogram. */
  value_ms: number | null
  /** value_ms ≤ bound_ms (informative: says which bound is to blame, does not decide the gate). */
  within: boolean
}

export interface SloGateResult {
  pass: boolean
  percentile: SummaryPercentile
  /** The goodput ratio needed to pass: the percentile as a fraction (p99 → 0.99). */
  required_ratio: number
  goodput: Goodput
  checks: SloGateCheck[]
  /** Why the gate failed, one line each, for people; empty when it passed. */
  reasons: string[]
}

/** What the gate reads: the run's (or the mesh's merged) counters and histograms. */
export interface GateInput {
  counters: Counters
  histograms: Record<MetricName, Histogram>
  /** The SLO `counters.slo_met` was counted with, when known; checked against the gate's SLO. */
  slo?: Slo
}

/**
 * The CLI's pass/fail gate for an SLO at a percentile (default p99). The rule, in one line:
 *
 *   pass ⇔ at least one request was due, and goodput ratio ≥ P/100
 *
 * i.e. "p99" means at least 99% of all due requests (completed + failed + dropped) met *every*
 * bound. Failed, timed-out and dropped requests count against the gate, which a percentile of a
 * latency histogram (ok requests only) would hide, and the verdict uses each request's exact values,
 * not HDR buckets. Each bounded metric's percentile is still reported in `checks` to show which bound
 * is to blame, but it does not decide: it ignores failures and rounds up by up to 0.1%.
 *
 * Throws SloSpecError if the SLO is empty, or if `input.slo` says the counts were made with another SLO.
 */
export function checkSloGate(slo: Slo, input: GateInput, percentile: SummaryPercentile = 'p99'): SloGateResult {
  if (isEmptySlo(slo)) throw new SloSpecError('SLO gate: the SLO has no bounds (give e.g. ttft=500ms)')
  if (input.slo !== undefined && formatSlo(input.slo) !== formatSlo(slo)) {
    throw new SloSpecError(
      `SLO gate: the run counted slo_met with "${formatSlo(input.slo)}", not "${formatSlo(slo)}"`
    )
  }
  const p = PERCENTILES[percentile]
  const required = p / 100
  const g = goodput(input.counters, 0, slo)
  const checks: SloGateCheck[] = []
  for (const metric of ['ttft', 'tpot', 'e2e', 'itl'] as const) {
    const bound = slo[`${metric}_ms`]
    if (bound === undefined) continue
    const [value] = percentiles(input.histograms[metric], [p], 1000)
    checks.push({ metric, bound_ms: bound, value_ms: value, within: value !== null && value <= bound })
  }
  const reasons: string[] = []
  if (g.total === 0) reasons.push('no request was completed, failed or dropped')
  else if ((g.ratio as number) < required) {
    const c = input.counters
    reasons.push(
      `${g.met} of ${g.total} requests (${pct(g.ratio as number)}) met ${formatSlo(slo)}; ` +
        `${percentile} needs ${pct(required)} (failed ${c.failed}, dropped ${c.dropped})`
    )
    for (const ch of checks) {
      if (!ch.within) {
        reasons.push(`${ch.metric} ${percentile} ${ch.value_ms === null ? 'not measured' : `${round(ch.value_ms)}ms`} > ${ch.bound_ms}ms`)
      }
    }
  }
  return { pass: reasons.length === 0, percentile, required_ratio: required, goodput: g, checks, reasons }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x >= 0.999 && x < 1 ? 2 : 1)}%`
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
