import { randomUUID } from 'node:crypto'
import type { Clock } from '@loadmesh/clock'
import { createRng, createArrivalProcess, countTokens, prepareTokenizer, TOKENIZER } from '@loadmesh/workload'
import { createRunRecorder } from '@loadmesh/metrics'
import type { LiveView, RunRecorder } from '@loadmesh/metrics'
import { createIdleWork, createInjector, preparePreciseAlarm, runOpenLoop, runClosedLoop, settleHeap } from '@loadmesh/injector'
import { buildReport } from '@loadmesh/report'
import type { Report } from '@loadmesh/report'
import type { RunConfig } from './run-config.ts'
import { createHealthMonitor } from './injector-health.ts'
import type { InjectorHealth } from './injector-health.ts'
import { createRequestSource, loadWorkload } from './request-source.ts'
import { createIdleGc, withoutMemoryReducer } from './idle-gc.ts'
import type { LoadedWorkload, PlannedRequest } from './request-source.ts'

export interface Progress {
  run_id: string
  elapsed_ms: number
  duration_ms: number
  in_flight: number
  live: LiveView
  health: InjectorHealth
}

export interface RunLocalOptions {
  clock: Clock
  apiKey?: string
  /** Called about once a second while the run goes on. */
  onProgress?: (p: Progress) => void
  /** Aborting stops scheduling; in-flight requests finish (bounded by the timeout) and are reported. */
  signal?: AbortSignal
  runId?: string
  /** Lead time between preparing and the first intended send, so setup never shows up as lag. */
  leadMs?: number
  /** Keep-alive connections opened before the first intended send (default 8; 0 = none). */
  warmupConnections?: number
  /** The config's log or model, already read (else it is read here, before anything is sent). */
  workload?: LoadedWorkload
}

/**
 * Expected cost of the first recorder event of a new window (it encodes the window before last and
 * fills the new one's histograms: 2-5 ms measured) and of a progress view (1-9 ms): the idle queue
 * waits for that much slack before running them.
 */
const WINDOW_TURN_MS = 3
const PROGRESS_MS = 3
/** Expected cost of building one request ahead (a prompt slice and a few draws). */
const BUILD_AHEAD_MS = 0.05
/** A plan's gap when it has no arrival left (request-source.ts's NEVER_MS): nothing to build. */
const NO_ARRIVAL_MS = 1e11

/**
 * One agent, alone: workload -> schedule -> injector -> recorder -> report. The mesh will run the
 * same pipeline per agent with its share of the rate; nothing here knows about peers.
 *
 * Only the sends happen at their due times. Everything else the recorder and the live panel do is
 * deferred to the slack between due sends (idle-work.ts in the injector), the heap is settled
 * before the first due time (heap-settle.ts), and an open loop's garbage collections are taken in
 * its gaps (idle-gc.ts): all measured to be what delayed sends.
 */
export async function runLocal (config: RunConfig, opts: RunLocalOptions): Promise<Report> {
  const { clock } = opts
  const runId = opts.runId ?? randomUUID()
  const rng = createRng(config.seed)
  // The whole log or model is read and checked first: a run never starts on a half-read log.
  const source = createRequestSource(config, rng, opts.workload !== undefined ? opts.workload : await loadWorkload(config))

  // Before anything is timed: the first count would otherwise load the encoding (~350 ms).
  prepareTokenizer()
  const health = createHealthMonitor()
  const idle = createIdleWork(clock)
  // The open loops hand their gaps to the idle queue through this wrapper, which also takes the
  // young-generation collections there and holds V8's memory reducer off (idle-gc.ts); a closed
  // loop has no due times and does not use it.
  const gc = createIdleGc({ clock })
  const gapIdle = gc.wrap(idle)
  // `recorder` exists once the start time is known, after the warm-up; nothing is sent before.
  let recorder: RunRecorder | undefined
  // The newest window an event was deferred for: the first event of the next one is the costly one.
  let lastWindow = -1
  const costAt = (r: RunRecorder, t: number): number | undefined => {
    const w = Math.floor((t - r.startAt) / r.windowMs)
    if (!(w > lastWindow)) return undefined
    lastWindow = w
    return WINDOW_TURN_MS
  }
  const injector = createInjector({
    baseUrl: config.target,
    model: config.model,
    apiKey: opts.apiKey,
    timeoutMs: config.timeout_ms,
    connections: config.connections,
    httpClient: config.http_client,
    clock,
    countTokens,
    onSent: (t) => {
      const r = recorder
      if (r !== undefined) idle.defer(() => r.onSent(t), costAt(r, t))
    }
  })
  // Open connections before the clock starts, so connection setup and the HTTP parser's first use
  // do not land on the first scheduled requests as schedule lag.
  if (opts.warmupConnections !== 0) {
    await injector.warmup(Math.min(config.connections, opts.warmupConnections ?? 8))
  }
  // The alarm thread's start would otherwise land on the first due times.
  await withoutMemoryReducer(() => preparePreciseAlarm())
  // Setup's survivors would otherwise be copied by the run's first scavenges, sends waiting.
  settleHeap()
  const startedAt = clock.wallNow()
  const startAt = clock.now() + (opts.leadMs ?? 50)
  const rec = createRunRecorder({ startAt, windowMs: 1000, slo: config.slo, breakdown: source.breakdown })
  recorder = rec

  const send = async (p: PlannedRequest, intendedAt: number): Promise<void> => {
    const result = await injector.send(p.spec, intendedAt)
    if (p.labels !== undefined) result.labels = p.labels
    idle.defer(() => rec.record(result), costAt(rec, Number.isFinite(result.endAt) ? result.endAt : clock.now()))
  }
  const onScheduled = (t: number): void => idle.defer(() => rec.onScheduled(t))
  const onDropped = (t: number): void => idle.defer(() => rec.onDropped(t))
  // The next request is built ahead, in the slack after a send, so that building it is not on a
  // due time's path: measured, the first request of a run spent 2.2 ms in source.next() (its
  // closures' first calls) and was sent that much later. A send finding nothing built builds
  // inline, as before; requests are built in the same order either way.
  let ahead: PlannedRequest | null = null
  const buildAhead = (): void => { ahead ??= source.next() }
  const fire = (intendedAt: number): Promise<void> => {
    const p = ahead ?? source.next()
    ahead = null
    const sent = send(p, intendedAt)
    idle.defer(buildAhead, BUILD_AHEAD_MS)
    return sent
  }
  if (!source.ownArrivals) buildAhead()

  const progress = (): void => {
    if (opts.onProgress === undefined) return
    // The views are built only if read: a quiet panel costs nothing.
    let live: LiveView | undefined
    let healthView: InjectorHealth | undefined
    opts.onProgress({
      run_id: runId,
      elapsed_ms: Math.max(0, clock.now() - startAt),
      duration_ms: config.duration_ms,
      in_flight: injector.stats().inFlight,
      get live () { return (live ??= rec.live(5000)) },
      get health () { return (healthView ??= health.read()) }
    })
  }
  let ticker = clock.setTimer(function tick () {
    idle.defer(progress, PROGRESS_MS)
    gc.tick()
    ticker = clock.setTimer(tick, 1000)
  }, 1000)

  health.start()
  try {
    if (config.mode === 'open') gc.begin()
    if (config.mode === 'open' && source.ownArrivals) {
      // Replay and model runs: the workload's own timeline, each arrival with its own request.
      const plan = source.arrivals({ fromMs: 0, toMs: config.duration_ms, rng: rng.split('arrivals') })
      // As above, the arrival's request is built ahead; it belongs to one arrival, so drawing the
      // next one (after a send or a drop) discards what was built.
      let planned: PlannedRequest | null = null
      let draws = 0
      // False once the plan has no arrival left: there is no current request to build.
      let drawn = false
      const buildPlanned = (): void => { if (drawn) planned ??= plan.current() }
      await runOpenLoop({
        clock,
        startAt,
        durationMs: config.duration_ms,
        nextGapMs: () => {
          planned = null
          const gap = plan.nextGapMs()
          drawn = gap < NO_ARRIVAL_MS
          // The first arrival is drawn before the clock starts: its request is built during setup.
          if (draws++ === 0) buildPlanned()
          return gap
        },
        maxInFlight: config.max_in_flight,
        fire: (t) => {
          const p = planned ?? plan.current()
          planned = null
          const sent = send(p, t)
          idle.defer(buildPlanned, BUILD_AHEAD_MS)
          return sent
        },
        onScheduled,
        onDropped,
        signal: opts.signal,
        idle: gapIdle
      })
    } else if (config.mode === 'open') {
      const arrivals = createArrivalProcess(
        { kind: config.arrival, rate: config.rate as number, burstiness: config.burstiness },
        rng.split('arrivals')
      )
      await runOpenLoop({
        clock,
        startAt,
        durationMs: config.duration_ms,
        // A constant rate starts at t = 0 (as k6's constant-arrival-rate does), so R req/s for D
        // seconds is exactly R*D requests; random processes start with a random gap.
        nextGapMs: config.arrival === 'constant'
          ? ((first) => () => { if (first) { first = false; return 0 } return arrivals.nextGapMs() })(true)
          : () => arrivals.nextGapMs(),
        maxInFlight: config.max_in_flight,
        fire,
        onScheduled,
        onDropped,
        signal: opts.signal,
        idle: gapIdle
      })
    } else {
      await runClosedLoop({
        clock,
        startAt,
        durationMs: config.duration_ms,
        concurrency: config.concurrency as number,
        fire: (t) => { onScheduled(t); return fire(t) },
        signal: opts.signal
      })
    }
  } finally {
    gc.end()
    ticker.cancel()
    await injector.close()
    idle.close()
  }
  idle.flush()
  const injectorHealth = health.stop()
  progress()
  const endAt = clock.now()
  return buildReport({
    runId,
    config,
    startedAt,
    endedAt: clock.wallNow(),
    durationS: Math.max(1e-9, (endAt - startAt) / 1000),
    plannedDurationS: config.duration_ms / 1000,
    targetRate: config.mode === 'open' ? config.rate : null,
    recorder: rec,
    injector: injectorHealth,
    tokenizer: TOKENIZER,
    interrupted: opts.signal?.aborted === true
  })
}
