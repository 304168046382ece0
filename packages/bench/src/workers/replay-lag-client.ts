// The replay-lag suite's client: `loadmesh run --replay LOG --speedup X --no-stream` as the CLI runs
// it (the agent's runLocal with the CLI's own flag parsing), so the lag measured is the report's
// schedule_lag. A short window of the same log first in the same process (the JIT is warm, as it
// is after a few seconds of any real run), then the measured replay.
import { decodeHistogram } from '@loadmesh/metrics'
import { countAboveMs } from '../count-above.ts'
import { workerMain } from '../worker-protocol.ts'
import { warmThenMeasure } from './run-local-pair.ts'

export interface ReplayLagClientConfig {
  deadlineMs: number
  baseUrl: string
  log: string
  speedup: number
  /** `--window` of the warm-up replay, e.g. `0m..2m`. */
  warmupWindow: string
  /** `--window` of the measured replay; null for the whole log. */
  window: string | null
  maxInFlight: number
  connections: number
  seed: string
}

export interface ReplayLagClientResult {
  wallMs: number
  cpuMs: number
  scheduled: number
  sent: number
  completed: number
  failed: number
  dropped: number
  errors: Record<string, number>
  scheduleLagMs: { p50: number | null; p99: number | null; p999: number | null; max: number | null }
  /** Requests sent more than 1 ms / 2 ms after their scaled log time (from the report's histogram). */
  over1ms: number
  over2ms: number
  eventLoopDelayMs: { p99: number | null; max: number | null }
}

workerMain<ReplayLagClientConfig>(async (c, { measuring }) => {
  const r = await warmThenMeasure({
    baseUrl: c.baseUrl, maxInFlight: c.maxInFlight, connections: c.connections, seed: c.seed, measuring,
    flags: (warmup) => {
      const window = warmup ? c.warmupWindow : c.window
      return { replay: c.log, speedup: String(c.speedup), ...(window === null ? {} : { window }), stream: false }
    }
  })
  const cpu = r.injector.cpu
  const lag = r.latency_ms.schedule_lag
  const h = decodeHistogram(r.histograms.schedule_lag, 'report.histograms.schedule_lag')
  const result: ReplayLagClientResult = {
    wallMs: r.duration_s * 1000,
    cpuMs: (cpu.user_s + cpu.system_s) * 1000,
    scheduled: r.requests.scheduled,
    sent: r.requests.sent,
    completed: r.requests.completed,
    failed: r.requests.failed,
    dropped: r.requests.dropped,
    errors: r.requests.errors,
    scheduleLagMs: { p50: lag.p50, p99: lag.p99, p999: lag.p999, max: lag.max },
    over1ms: countAboveMs(h, 1),
    over2ms: countAboveMs(h, 2),
    eventLoopDelayMs: { p99: r.injector.event_loop_delay_ms.p99, max: r.injector.event_loop_delay_ms.max }
  }
  return result
})
