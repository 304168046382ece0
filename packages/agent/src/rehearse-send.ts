import type { Clock } from '@loadmesh/clock'
import { createInjector, runOpenLoop } from '@loadmesh/injector'
import type { Endpoint, RequestSpec } from '@loadmesh/injector'
import { createRunRecorder } from '@loadmesh/metrics'
import { createSimulator } from '@loadmesh/simulator'
import { countTokens, createPromptFactory, createRng, parseDurationSpec } from '@loadmesh/workload'

export interface RehearsalResult {
  /** Requests handed to a connection. */
  sent: number
  /** Requests that completed against the in-process simulator. */
  completed: number
  /** Wall time the rehearsal took, ms. */
  ms: number
}

/** A few of each shape a run sends: streamed and not, chat and completions, embeddings. */
const SHAPES: ReadonlyArray<{ endpoint: Endpoint; stream: boolean }> = [
  { endpoint: '/v1/chat/completions', stream: true },
  { endpoint: '/v1/chat/completions', stream: false },
  { endpoint: '/v1/completions', stream: true },
  { endpoint: '/v1/embeddings', stream: false }
]
const REQUESTS = 24
const RATE_PER_S = 200

/**
 * Runs the whole send path once, at a process's start, against a simulator in the same process on
 * 127.0.0.1: an open loop on the precise alarm, the injector (connection, request body, HTTP and
 * SSE parsing), the run recorder and the encoding of its windows. Without it a process's first
 * run was the first time any of that code ran, and its first sends (the ones a plan's start skew
 * is measured on) paid for the compiling: at 16 agents on 2 cores the first run's slowest agent
 * started 35 ms late against 11 ms in later runs. Nothing leaves the host; bounded in requests
 * (24) and time (`timeoutMs`).
 */
export async function rehearseSendPath(clock: Clock, timeoutMs = 5000): Promise<RehearsalResult> {
  const started = clock.now()
  const sim = createSimulator({ seed: 'rehearsal', engine: { ttft: parseDurationSpec('1ms'), itl: parseDurationSpec('0ms') }, outputTokens: 'fixed:8' })
  const { url } = await sim.start()
  const recorder = createRunRecorder({ startAt: clock.now(), windowMs: 1000 })
  const injector = createInjector({ baseUrl: url, model: 'loadmesh-sim', timeoutMs, connections: 2, clock, countTokens, onSent: (t) => recorder.onSent(t) })
  const prompts = createPromptFactory(createRng('rehearsal'))
  const ctrl = new AbortController()
  const guard = setTimeout(() => ctrl.abort(), timeoutMs)
  let k = 0
  try {
    await injector.warmup(2, timeoutMs)
    await runOpenLoop({
      clock,
      startAt: clock.now() + 5,
      durationMs: timeoutMs,
      maxRequests: REQUESTS,
      nextGapMs: () => 1000 / RATE_PER_S,
      maxInFlight: REQUESTS,
      signal: ctrl.signal,
      onScheduled: (t) => recorder.onScheduled(t),
      fire: async (intendedAt) => {
        const shape = SHAPES[k++ % SHAPES.length]
        const spec: RequestSpec = { endpoint: shape.endpoint, prompt: prompts.make(16), inputTokens: 16, maxTokens: 8, stream: shape.stream, includeUsage: shape.stream }
        recorder.record(await injector.send(spec, intendedAt))
      }
    })
    recorder.windows(clock.now() + 1000)
    const c = recorder.counters()
    return { sent: c.sent, completed: c.completed, ms: clock.now() - started }
  } finally {
    clearTimeout(guard)
    await injector.close().catch(() => {})
    await sim.stop()
  }
}
