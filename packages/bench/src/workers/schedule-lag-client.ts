// The schedule-lag suite's client: the agent's own runLocal (what `loadmesh run` executes), not a
// copy of its wiring, so the lag measured is the lag users get from the report, including the
// deferred bookkeeping, the settled heap and the live-panel ticker. A warm-up run first in the same
// process (the JIT is warm; runLocal opens its own connections), then the measured run.
import { MAX_TOKENS, PROMPT_TOKENS } from '../payloads.ts'
import { workerMain } from '../worker-protocol.ts'
import { warmThenMeasure } from './run-local-pair.ts'
import type { LoadmeshClientConfig, LoadmeshClientResult } from '../client-results.ts'

workerMain<LoadmeshClientConfig>(async (c, { measuring }) => {
  if (c.mode !== 'open') throw new Error('schedule-lag-client: open loop only')
  const r = await warmThenMeasure({
    baseUrl: c.baseUrl, maxInFlight: c.maxInFlight, connections: c.connections, seed: c.seed, measuring,
    flags: (warmup) => ({
      rate: String(c.rate),
      duration: `${warmup ? c.warmupMs : c.durationMs}ms`,
      stream: c.stream,
      'input-tokens': `fixed:${PROMPT_TOKENS}`,
      'output-tokens': `fixed:${MAX_TOKENS}`
    })
  })
  const cpu = r.injector.cpu
  const failed = r.requests.failed
  const firstError = failed > 0 ? Object.entries(r.requests.errors).map(([k, n]) => `${k}: ${n}`).join(', ') : null
  const result: LoadmeshClientResult = {
    wallMs: r.duration_s * 1000,
    cpuMs: (cpu.user_s + cpu.system_s) * 1000,
    loop: { scheduled: r.requests.scheduled, fired: r.requests.sent, dropped: r.requests.dropped },
    scheduled: r.requests.scheduled,
    sent: r.requests.sent,
    completed: r.requests.completed,
    failed,
    dropped: r.requests.dropped,
    errors: r.requests.errors,
    contentChunks: 0,
    outputTokens: r.tokens.output_total,
    scheduleLagMs: r.latency_ms.schedule_lag,
    eventLoopDelayMs: r.injector.event_loop_delay_ms,
    firstError
  }
  return result
})
