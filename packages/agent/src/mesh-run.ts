import type { Clock, Timer } from '@loadmesh/clock'
import { createArrivalProcess, createRng, countTokens, preparePromptPool, prepareTokenizer } from '@loadmesh/workload'
import type { Rng } from '@loadmesh/workload'
import { createRunRecorder } from '@loadmesh/metrics'
import type { BreakdownSnapshot, RunRecorder } from '@loadmesh/metrics'
import { createInjector, preparePreciseAlarm, runClosedLoop, runOpenLoop } from '@loadmesh/injector'
import type { Injector, PreparedSend } from '@loadmesh/injector'
import { sharedPreciseWall } from '@loadmesh/mesh'
import { scheduleFor } from '@loadmesh/mesh-state'
import type { EpochTimeline, ScheduleInterval } from '@loadmesh/mesh-state'
import { prepareCodecs } from '@loadmesh/protocol'
import type { RunPlan } from '@loadmesh/protocol'
import type { RunConfig } from './run-config.ts'
import { createRequestSource, loadWorkloadSync } from './request-source.ts'
import type { PlannedRequest, RequestSource } from './request-source.ts'

/**
 * One agent's execution of one plan: the intervals scheduleFor gives it, each an open or closed
 * loop of its own, on one injector and one run recorder whose window 0 starts at the plan's T0 (so
 * window indices line up across peers). The schedule is re-derived on every timeline change; a
 * loop whose interval was cut short is stopped at the new end, and the next one starts on time
 * whatever the previous one still has in flight.
 */
export interface MeshRunOptions {
  plan: RunPlan
  config: RunConfig
  selfId: string
  clock: Clock
  /** Ceiling on this agent's own rate, requests per second; arrivals above it are dropped and counted. */
  maxRate?: number
  apiKey?: string
  /** Called once every loop has ended after the plan's end, a stop or an abort. */
  onDone?: () => void
}

export type MeshRunPhase = 'waiting' | 'running' | 'stopping' | 'done'

export interface MeshRunStatus {
  phase: MeshRunPhase
  /** The epoch in force for this agent now (null before the first). */
  epoch: number | null
  in_flight: number
  sent: number
  completed: number
  failed: number
  dropped: number
  /** Monotonic ms (clock.now()) of the first intended send, null before one. */
  first_intended_at: number | null
  /** Monotonic ms of the first actual send, null before one. */
  first_sent_at: number | null
}

export interface MeshRun {
  readonly runId: string
  /** Monotonic time of the plan's T0: the recorder's window 0 starts here. */
  readonly t0: number
  readonly recorder: RunRecorder
  update(timeline: EpochTimeline): void
  /** Stop scheduling; in-flight requests finish and are recorded. */
  stop(): void
  /** Stop now; in-flight requests are no longer recorded. */
  abort(): void
  status(): MeshRunStatus
  /**
   * This agent's cumulative breakdown now (copies), or null when the run keeps none (no endpoint
   * mix, classes, adversarial inputs or long tail). `finished` orders snapshots of the run; `final`
   * is set once the run is done (no later request can change it).
   */
  breakdownSnapshot(): BreakdownSnapshot | null
  /** Resolves when every loop has ended and the injector is closed (or, after an abort, released). */
  done(): Promise<void>
}

/**
 * Loops start this long before their interval so the first arrival is never late for setup: a
 * process's first loop also starts the injector's precise-alarm thread (a worker, tens of ms to
 * boot on a busy host). Plans arrive seconds ahead, so the longer lead costs nothing.
 */
export const LEAD_MS = 300
/** An interval learned this late starts now instead of catching up on what it owed. */
const LATE_START_MS = 250

interface Loop {
  key: string
  startRel: number
  endRel: number
  ctrl: AbortController
  stopTimer: Timer | null
  promise: Promise<unknown>
}

/**
 * Builds, once per process, what a first run would otherwise build when its plan arrives: the
 * tokenizer (~350 ms of CPU), the prompt pool (~40 ms), the wire codecs (~15 ms) and the alarm
 * thread (a new isolate). A plan arrives a couple of seconds before T0 and every agent adopts it
 * at once, so on a shared host that work delayed the plan's relays and the agents' first sends.
 * Idempotent.
 */
export function prepareMeshRuns(): void {
  prepareTokenizer()
  preparePromptPool()
  prepareCodecs()
  void preparePreciseAlarm()
}

export function createMeshRun(o: MeshRunOptions): MeshRun {
  return new MeshRunImpl(o)
}

function intervalKey(iv: ScheduleInterval): string {
  return `${iv.from_ms}|${iv.stage}|${iv.epoch}|${iv.mode}|${iv.rate}|${iv.concurrency}|${iv.seed_label}`
}

class MeshRunImpl implements MeshRun {
  readonly runId: string
  readonly t0: number
  readonly recorder: RunRecorder
  private readonly o: MeshRunOptions
  private readonly clock: Clock
  private readonly injector: Injector
  private readonly rng: Rng
  private readonly source: RequestSource
  private readonly durationMs: number
  private schedule: ScheduleInterval[] = []
  private readonly loops = new Map<string, Loop>()
  /** Keys of intervals already started (an interval runs at most once). */
  private readonly started = new Set<string>()
  private timer: Timer | null = null
  private phase: MeshRunPhase = 'waiting'
  private aborted = false
  private firstIntended: number | null = null
  private firstSent: number | null = null
  /** A synthetic request drawn ahead of its send (see startLoop). */
  private primed: PlannedRequest | null = null
  private primedSend: PreparedSend | null = null
  private finished: Promise<void> | null = null
  private resolveDone: () => void = () => {}
  private readonly donePromise: Promise<void>

  constructor(o: MeshRunOptions) {
    this.o = o
    this.clock = o.clock
    this.runId = o.plan.run_id
    this.durationMs = o.plan.stages.reduce((s, st) => s + st.duration_ms, 0)
    // Wall T0 mapped once onto the monotonic clock; everything after is monotonic. Through the
    // sub-millisecond wall clock: Date.now() truncates, which started runs up to 1 ms late. The
    // process's one calibration, the one its clock probes use: peers then measure the very offset
    // that places our T0. Re-taken only if it is loose or old, and kept only if tighter: a spin
    // while every agent of a host gets the plan at once is preempted and sees the ms edge late.
    const wall = sharedPreciseWall(this.clock)
    wall.refresh()
    this.t0 = this.clock.now() + (o.plan.start_wall_ms - wall.now())
    const c = o.config
    // Each agent draws its own request shapes: same plan seed, a stream per peer. A replayed log
    // or a model is read here, before T0 (the plan arrives seconds ahead).
    this.rng = createRng(o.plan.seed)
    this.source = createRequestSource(c, this.rng.split(`requests:${o.selfId}`), loadWorkloadSync(c))
    // Whatever the agent has not prepared while idle yet (the tokenizer, the alarm thread: once
    // per process) is done now, well before T0.
    prepareMeshRuns()
    // Window snapshots carry no breakdown: it is cumulative and large, so the agent hands it out in
    // reconcile answers (breakdownSnapshot) instead of gossiping it every second.
    const recorder = createRunRecorder({ startAt: this.t0, windowMs: 1000, slo: o.config.slo, breakdown: this.source.breakdown })
    this.recorder = recorder
    this.donePromise = new Promise((resolve) => { this.resolveDone = resolve })
    this.injector = createInjector({
      baseUrl: c.target,
      model: c.model,
      apiKey: o.apiKey,
      timeoutMs: c.timeout_ms,
      connections: c.connections,
      httpClient: c.http_client,
      clock: this.clock,
      countTokens,
      onSent: (t) => {
        if (this.firstSent === null) this.firstSent = t
        recorder.onSent(t)
      }
    })
    // Plans arrive seconds before T0: open keep-alive connections now, so connection setup does
    // not land on the first scheduled requests as schedule lag. Failures show up in the run.
    if (this.t0 - this.clock.now() > 200) void this.injector.warmup(Math.min(c.connections, 8), Math.min(5000, this.t0 - this.clock.now()))
  }

  update(timeline: EpochTimeline): void {
    if (this.phase === 'done' || this.phase === 'stopping') return
    this.schedule = scheduleFor(this.o.plan, timeline, this.o.selfId)
    this.tick()
  }

  stop(): void {
    if (this.phase === 'done' || this.phase === 'stopping') return
    this.phase = 'stopping'
    this.timer?.cancel()
    this.timer = null
    for (const l of this.loops.values()) this.endLoop(l)
    this.maybeFinish()
  }

  abort(): void {
    this.aborted = true
    this.stop()
    // In-flight requests cannot be cancelled through the injector; their results are ignored and
    // the run is released without waiting for them.
    this.finish()
  }

  status(): MeshRunStatus {
    const c = this.recorder.counters()
    return {
      phase: this.phase,
      epoch: this.schedule.find((iv) => iv.from_ms <= this.relNow() && this.relNow() < iv.to_ms)?.epoch ?? null,
      in_flight: this.injector.stats().inFlight,
      sent: c.sent,
      completed: c.completed,
      failed: c.failed,
      dropped: c.dropped,
      first_intended_at: this.firstIntended,
      first_sent_at: this.firstSent
    }
  }

  done(): Promise<void> {
    return this.donePromise
  }

  breakdownSnapshot(): BreakdownSnapshot | null {
    // Both read synchronously, so `finished` counts exactly the requests the breakdown holds.
    const breakdown = this.recorder.breakdown()
    if (breakdown === null) return null
    const c = this.recorder.counters()
    return { finished: c.completed + c.failed, final: this.phase === 'done', breakdown }
  }

  private relNow(): number {
    return this.clock.now() - this.t0
  }

  /** Starts intervals that are due, trims or ends running loops that the new schedule cut, arms the next wake-up. */
  private tick(): void {
    if (this.phase === 'done' || this.phase === 'stopping') return
    this.timer?.cancel()
    this.timer = null
    const rel = this.relNow()
    const wanted = new Map<string, ScheduleInterval>()
    for (const iv of this.schedule) wanted.set(intervalKey(iv), iv)
    for (const l of this.loops.values()) {
      const iv = wanted.get(l.key)
      if (iv === undefined) this.endLoop(l)
      else if (iv.to_ms < l.endRel) this.trimLoop(l, iv.to_ms)
    }
    let next = Number.POSITIVE_INFINITY
    for (const iv of this.schedule) {
      const key = intervalKey(iv)
      if (this.started.has(key) || iv.to_ms <= rel) continue
      if (iv.from_ms > rel + LEAD_MS) {
        next = Math.min(next, iv.from_ms - LEAD_MS)
        continue
      }
      this.started.add(key)
      if (iv.mode === 'idle' || (iv.rate <= 0 && iv.concurrency <= 0) || iv.seed_label === null) continue
      this.startLoop(iv, rel)
    }
    if (rel >= this.durationMs) {
      this.phase = 'stopping'
      this.maybeFinish()
      return
    }
    next = Math.min(next, this.durationMs)
    if (this.loops.size > 0 && this.phase === 'waiting') this.phase = 'running'
    this.timer = this.clock.setTimer(() => { this.timer = null; this.tick() }, Math.max(0, this.t0 + next - this.clock.now()))
  }

  private startLoop(iv: ScheduleInterval, rel: number): void {
    const startRel = iv.from_ms < rel - LATE_START_MS ? rel : iv.from_ms
    const key = intervalKey(iv)
    const ctrl = new AbortController()
    const rec = this.recorder
    const startAt = this.t0 + startRel
    const durationMs = iv.to_ms - startRel
    // Replay and model runs bring their own arrivals (the agent's records of the log, or the
    // model at its share of the rate); each arrival then has its own request.
    const plan = iv.mode === 'open' && this.source.ownArrivals
      ? this.source.arrivals({ fromMs: startRel, toMs: iv.to_ms, rng: this.rng.split(iv.seed_label as string), share: iv.share })
      : null
    // The first synthetic request is drawn now, during the lead: building it (prompt, lengths)
    // is the coldest code of the send path, and T0's first send is what the start skew measures.
    // And made ready to go (Injector.prepare: bytes built, a connection set aside): at T0 every
    // agent of a host wakes at once, and each one's work before its write delays the others'.
    if (plan === null && this.primed === null) {
      this.primed = this.source.next()
      this.primedSend = this.injector.prepare(this.primed.spec)
    }
    const send = async (intendedAt: number): Promise<void> => {
      if (this.firstIntended === null) this.firstIntended = intendedAt
      let p: PlannedRequest
      let ready: PreparedSend | null = null
      if (plan !== null) p = plan.current()
      else if (this.primed !== null) {
        p = this.primed
        ready = this.primedSend
        this.primed = null
        this.primedSend = null
      } else p = this.source.next()
      const result = await (ready !== null ? ready.send(intendedAt) : this.injector.send(p.spec, intendedAt))
      if (p.labels !== undefined) result.labels = p.labels
      if (!this.aborted) rec.record(result)
    }
    // Every agent meets the plan's T0 (and each epoch's start) at the same instant: the first due
    // time blocks this thread for its last ms instead of hopping through the alarm thread, unless
    // responses of an earlier interval are still coming in (they would wait behind the block).
    const blockFirst = (): boolean => this.injector.stats().inFlight === 0
    let promise: Promise<unknown>
    if (iv.mode === 'open') {
      const c = this.o.config
      const arrivals = plan !== null ? plan : createArrivalProcess({ kind: c.arrival, rate: iv.rate, burstiness: c.burstiness }, this.rng.split(iv.seed_label as string))
      // Thinning keeps the intended schedule (so the cap shows up as drops, not as a lower target)
      // and, for Poisson arrivals, leaves a Poisson process at the capped rate.
      const keep = this.o.maxRate !== undefined && this.o.maxRate > 0 && iv.rate > this.o.maxRate ? this.o.maxRate / iv.rate : 1
      let credit = 0
      let first = plan === null && c.arrival === 'constant'
      promise = runOpenLoop({
        clock: this.clock,
        startAt,
        durationMs,
        nextGapMs: () => {
          if (first) { first = false; return 0 }
          return arrivals.nextGapMs()
        },
        maxInFlight: c.max_in_flight,
        fire: (t) => {
          credit += keep
          if (credit < 1 - 1e-9) { rec.onDropped(t); return Promise.resolve() }
          credit -= 1
          return send(t)
        },
        onScheduled: (t) => rec.onScheduled(t),
        onDropped: (t) => rec.onDropped(t),
        signal: ctrl.signal,
        blockFirst
      })
    } else {
      promise = runClosedLoop({
        clock: this.clock,
        startAt,
        durationMs,
        concurrency: iv.concurrency,
        fire: (t) => { rec.onScheduled(t); return send(t) },
        signal: ctrl.signal,
        blockFirst
      })
    }
    const loop: Loop = { key, startRel, endRel: iv.to_ms, ctrl, stopTimer: null, promise }
    this.loops.set(key, loop)
    promise.catch(() => {}).finally(() => {
      loop.stopTimer?.cancel()
      this.loops.delete(key)
      this.maybeFinish()
    })
  }

  private trimLoop(l: Loop, endRel: number): void {
    l.endRel = endRel
    l.stopTimer?.cancel()
    l.stopTimer = this.clock.setTimer(() => { l.ctrl.abort() }, Math.max(0, this.t0 + endRel - this.clock.now()))
  }

  private endLoop(l: Loop): void {
    l.stopTimer?.cancel()
    l.ctrl.abort()
  }

  private maybeFinish(): void {
    if (this.phase !== 'stopping' || this.loops.size > 0) return
    this.finish()
  }

  private finish(): void {
    if (this.finished !== null) return
    this.phase = 'done'
    this.timer?.cancel()
    this.timer = null
    this.primedSend?.discard()
    this.primedSend = null
    const closing = this.injector.close().catch(() => {})
    this.finished = (this.aborted ? Promise.resolve() : closing).then(() => {
      this.o.onDone?.()
      this.resolveDone()
    })
  }
}
