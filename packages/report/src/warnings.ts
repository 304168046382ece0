import type { Report } from './report.ts'

/** Thresholds past which the generator, not the server, may be what the numbers describe. */
export const WARN = {
  /** Sent below this fraction of the target rate. */
  achievedRateFraction: 0.95,
  /** schedule_lag p99 above this many ms. */
  scheduleLagP99Ms: 5,
  /** Event-loop delay p99 above this many ms. */
  eventLoopP99Ms: 20,
  /** CPU use above this fraction of one core (Node runs JS on one core). */
  cpuUtilisation: 0.85
} as const

/**
 * Everything a reader must know before trusting a report: a load generator that could not keep up,
 * requests dropped at the cap, token counts the server did not give. Users of other tools discover
 * these after the fact; loadmesh says so in the report itself.
 */
export function collectWarnings (r: Report, clamped: Record<string, number>): string[] {
  const w: string[] = []
  const t = r.throughput
  if (t.target_rate !== null && !r.interrupted && t.achieved_rate < WARN.achievedRateFraction * t.target_rate) {
    w.push(`achieved ${t.achieved_rate.toFixed(2)} req/s, below ${(WARN.achievedRateFraction * 100).toFixed(0)}% of the target ${t.target_rate} req/s`)
  }
  const lag = r.latency_ms.schedule_lag.p99
  if (lag !== null && lag > WARN.scheduleLagP99Ms) {
    w.push(`schedule_lag p99 is ${lag.toFixed(1)} ms: the generator sent late; latencies are still measured from the intended time, but the offered load was not the planned one`)
  }
  if (r.injector.event_loop_delay_ms.p99 > WARN.eventLoopP99Ms) {
    w.push(`injector event-loop delay p99 ${r.injector.event_loop_delay_ms.p99.toFixed(1)} ms: the load generator was overloaded; add agents or lower the rate`)
  }
  if (r.injector.cpu.utilisation > WARN.cpuUtilisation) {
    w.push(`injector CPU at ${(r.injector.cpu.utilisation * 100).toFixed(0)}% of a core: close to saturation, latency may be inflated by the generator`)
  }
  if (r.requests.dropped > 0) {
    w.push(`${r.requests.dropped} requests dropped: --max-in-flight was reached (they were counted, not sent late)`)
  }
  if (r.tokens.output_tokens_source.counted > 0) {
    w.push(`${r.tokens.output_tokens_source.counted} responses had no usage; their output tokens were counted by loadmesh (${r.tool.tokenizer})`)
  }
  for (const [metric, n] of Object.entries(clamped)) {
    if (n > 0) w.push(`${n} ${metric} values were outside the histogram range (1 us to 1 h) and clamped`)
  }
  return w
}
