import type { Clock } from '@loadmesh/clock'
import { createInjector, runOpenLoop } from '@loadmesh/injector'
import type { Endpoint, RequestSpec } from '@loadmesh/injector'
import { createRunRecorder } from '@loadmesh/metrics'
import { createSimulator } from '@loadmesh/simulator'
import { countTokens, createPromptFactory, createRng, parseDurationSpec, parseLengthSpec } from '@loadmesh/workload'
import type { EpochTimeline } from '@loadmesh/mesh-state'
import type { RunPlan } from '@loadmesh/protocol'
import { createMeshRun, LEAD_MS as LOOP_LEAD_MS } from './mesh-run.ts'
import type { RunConfig } from './run-config.ts'

export interface RehearsalResult {
  /** Requests handed to a connection. */
  sent: number
  /** Requests that completed against the in-process simulator. */
  completed: number
  /** Tiny runs that went through a mesh run's own start and sent (see RUN_STARTS). */
  runs: number
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
 * Then this many tiny one-agent runs, each through a mesh run's own T0 (open loops with constant
 * and Poisson arrivals, a closed loop). A run's start has code of its own that the requests above
 * never reach: the prepared first request and its reserved connection, the thread blocked for the
 * last ms, the schedule. Traced at 16 agents on 2 cores (perf sched), each agent's turn at T0 took
 * 0.40 ms (median) in a process's first run and 0.15-0.22 ms in later ones; the 16 turns queue on
 * the two cores, so the first run's slowest agents started twice as late.
 */
const RUN_STARTS = 6
/**
 * The first three plans come this far ahead, as a real one does: the run opens its connections
 * (when its T0 is over 200 ms away) and, at its loop's start LOOP_LEAD_MS ahead, sets one aside for
 * the prepared first request, so that path runs too. The others come just ahead, which keeps the
 * rest short.
 */
const PREPARED_LEAD_MS = LOOP_LEAD_MS + 50
const RUN_LEAD_MS = 10
const RUN_MS = 25
const SELF = 'rehearsal'

/**
 * Runs the whole send path once, at a process's start, against a simulator in the same process on
 * 127.0.0.1: an open loop on the precise alarm, the injector (connection, request body, HTTP and
 * SSE parsing), the run recorder and the encoding of its windows; then a run's own start (see
 * RUN_STARTS). Without it a process's first run was the first time any of that code ran, and its
 * first sends (the ones a plan's start skew is measured on) paid for the compiling: at 16 agents
 * on 2 cores the first run's slowest agent started 35 ms late against 11 ms in later runs. Nothing
 * leaves the host; bounded in requests (24, then six runs of RUN_MS) and time (`timeoutMs`).
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
    let sent = c.sent
    let completed = c.completed
    let runs = 0
    for (let i = 0; i < RUN_STARTS && !ctrl.signal.aborted; i++) {
      const r = await rehearseRunStart(clock, url, i, ctrl.signal)
      sent += r.sent
      completed += r.completed
      if (r.sent > 0) runs++
    }
    return { sent, completed, runs, ms: clock.now() - started }
  } finally {
    clearTimeout(guard)
    await injector.close().catch(() => {})
    await sim.stop()
  }
}

/** One tiny run through createMeshRun: the plan's T0 PREPARED_LEAD_MS or RUN_LEAD_MS ahead, this process its only member. */
async function rehearseRunStart(clock: Clock, target: string, i: number, signal: AbortSignal): Promise<{ sent: number; completed: number }> {
  const closed = i % 3 === 2
  const config: RunConfig = {
    target,
    model: 'loadmesh-sim',
    endpoint: '/v1/chat/completions',
    duration_ms: RUN_MS,
    mode: closed ? 'closed' : 'open',
    rate: closed ? null : RATE_PER_S,
    concurrency: closed ? 2 : null,
    arrival: i % 3 === 1 ? 'poisson' : 'constant',
    burstiness: 1,
    input_tokens: parseLengthSpec('fixed:16'),
    output_tokens: parseLengthSpec('fixed:8'),
    stream: true,
    ignore_eos: false,
    seed: 'rehearsal',
    slo: {},
    max_in_flight: 100,
    timeout_ms: 5000,
    connections: 2,
    max_error_rate: 1,
    fail_on_slo: false
  }
  const plan: RunPlan = {
    run_id: `rehearsal-${i}`,
    seed: 'rehearsal',
    start_wall_ms: clock.wallNow() + (i < 3 ? PREPARED_LEAD_MS : RUN_LEAD_MS),
    stages: [{ duration_ms: RUN_MS, rate: closed ? 0 : RATE_PER_S, concurrency: closed ? 2 : 0 }],
    config_json: '{}',
    target_allow: [target]
  }
  const epoch = { epoch: 0, start_ms: 0, members: [{ peer_id: SELF, weight: 1 }], command: { id: plan.run_id, lamport: 0, issuer: SELF } }
  const timeline: EpochTimeline = { run_id: plan.run_id, epochs: [epoch], rebalances: [], discarded: [], latest: epoch }
  const run = createMeshRun({ plan, config, selfId: SELF, clock })
  const onAbort = (): void => { run.abort() }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    run.update(timeline)
    await run.done()
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  // What a heartbeat and a results delta read from a run.
  const st = run.status()
  run.breakdownSnapshot()
  run.recorder.windows(clock.now() + 1000)
  return { sent: st.sent, completed: st.completed }
}
