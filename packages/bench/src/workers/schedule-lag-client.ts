// The schedule-lag suite's client: the agent's own runLocal (what `loadmesh run` executes), not a
// copy of its wiring, so the lag measured is the lag users get from the report, including the
// deferred bookkeeping, the settled heap and the live-panel ticker. A warm-up run first in the same
// process (the JIT is warm; runLocal opens its own connections), then the measured run.
import { systemClock } from '@loadmesh/clock'
// Relative: the bench does not depend on the agent or the CLI packages (their own imports resolve
// from their own directories).
import { runLocal } from '../../../agent/src/index.ts'
import type { Report } from '../../../report/src/index.ts'
import { runConfigFromFlags } from '../../../cli/src/run-config-from-flags.ts'
import { MAX_TOKENS, MODEL, PROMPT_TOKENS } from '../payloads.ts'
import { workerMain } from '../worker-protocol.ts'
import type { LoadmeshClientConfig, LoadmeshClientResult } from '../client-results.ts'

workerMain<LoadmeshClientConfig>(async (c, { measuring }) => {
  if (c.mode !== 'open') throw new Error('schedule-lag-client: open loop only')
  const clock = systemClock()
  const config = (durationMs: number, seed: string) => runConfigFromFlags({
    rate: String(c.rate),
    duration: `${durationMs}ms`,
    stream: c.stream,
    'input-tokens': `fixed:${PROMPT_TOKENS}`,
    'output-tokens': `fixed:${MAX_TOKENS}`,
    'max-in-flight': String(c.maxInFlight),
    connections: String(c.connections),
    timeout: '10s',
    'max-error-rate': '1',
    seed
  }, c.baseUrl, MODEL)
  // A progress consumer that reads the live view, as the CLI's panel does.
  const onProgress = (p: { live: unknown; health: unknown }): void => { void p.live; void p.health }

  await runLocal(config(c.warmupMs, `${c.seed}-warmup`), { clock, onProgress })
  measuring()
  const r: Report = await runLocal(config(c.durationMs, c.seed), { clock, onProgress })
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
