import type { Clock, Timer } from '@loadmesh/clock'
import type { Rng } from '@loadmesh/workload'
import type { Engine } from './engine.ts'
import { FaultConfigError } from './errors.ts'
import { checkRates, faultToJson, isRateFault, REQUEST_FAULT_KINDS } from './fault-config.ts'
import type { FaultSpec, RateFault, RequestFaultKind, TimedFault } from './fault-config.ts'

interface Scheduled {
  /** Absolute clock ms the fault fires. */
  at: number
  fault: TimedFault
  /** Absolute end of a brownout window (null: open-ended). */
  end: number | null
}

/** What GET /admin/faults shows. */
export interface FaultStatus {
  /** The per-request faults in force, in file form. */
  rates: Array<Record<string, unknown>>
  /** Timed faults still to come, with `in_ms` from now. */
  upcoming: Array<Record<string, unknown>>
  /** The latency multiplier in force and until when (ms from now; null: open-ended), or null. */
  brownout: { factor: number; remaining_ms: number | null } | null
  /** Faults played since the start, by kind (per-request ones count requests). */
  injected: Record<string, number>
}

/**
 * The simulator's faults at run time: the per-request rates (one seeded draw per request, so a
 * fixed seed and the same request order give the same outcomes) and a timeline of engine faults
 * (brownouts, stalls, crashes) behind one clock timer.
 */
export class FaultController {
  private readonly clock: Clock
  private readonly rng: Rng
  private readonly engine: Engine
  private readonly replicas: number
  /** In REQUEST_FAULT_KINDS order, so the draw walks the same cumulative ranges whatever order they were given in. */
  private rates: RateFault[] = []
  private timeline: Scheduled[] = []
  private timer: Timer | undefined
  private brownoutUntil = Number.NEGATIVE_INFINITY
  private brownoutFactor = 1
  private readonly injected = new Map<string, number>()
  private running = false

  constructor(clock: Clock, rng: Rng, engine: Engine) {
    this.clock = clock
    this.rng = rng
    this.engine = engine
    this.replicas = engine.stats().replicas.length
  }

  /** Starts the timeline: faults added before start count their times from now. */
  start(): void {
    this.running = true
    const now = this.clock.now()
    for (const s of this.timeline) {
      s.at += now
      if (s.end !== null) s.end += now
    }
    this.fireDue()
  }

  stop(): void {
    this.running = false
    this.timer?.cancel()
    this.timer = undefined
  }

  /**
   * Adds faults. A per-request kind replaces the rate already set for it (rate 0 removes it); timed
   * faults count their times from now (or from start(), when not started yet). Validates everything
   * before changing anything.
   */
  add(specs: FaultSpec[], source: string): void {
    const byKind = new Map(this.rates.map((r) => [r.kind, r]))
    const timed: TimedFault[] = []
    for (const f of specs) {
      if (isRateFault(f)) {
        if (f.rate === 0) byKind.delete(f.kind)
        else byKind.set(f.kind, f)
        continue
      }
      if ((f.kind === 'crash' || f.kind === 'stall') && f.replica !== undefined && f.replica >= this.replicas) {
        throw new FaultConfigError(`${source}: ${f.kind} replica ${f.replica} does not exist (the engine has ${this.replicas} replica${this.replicas === 1 ? '' : 's'}, 0..${this.replicas - 1})`)
      }
      timed.push(f)
    }
    const rates = REQUEST_FAULT_KINDS.map((k) => byKind.get(k)).filter((r): r is RateFault => r !== undefined)
    checkRates(rates, source)
    this.rates = rates
    const origin = this.running ? this.clock.now() : 0
    for (const f of timed) {
      const at = origin + (f.kind === 'brownout' ? f.startMs : f.atMs)
      const end = f.kind === 'brownout' && f.endMs !== null ? origin + f.endMs : null
      this.timeline.push({ at, fault: f, end })
    }
    this.timeline.sort((a, b) => a.at - b.at)
    if (this.running) this.fireDue()
  }

  /** Removes every fault (or those of one kind); ends a brownout in force. Stalls and crashes already played stay played. */
  clear(kind?: string): void {
    if (kind !== undefined && ![...REQUEST_FAULT_KINDS, 'brownout', 'stall', 'crash'].includes(kind)) {
      throw new FaultConfigError(`DELETE /admin/faults: unknown kind "${kind}" (valid: ${[...REQUEST_FAULT_KINDS, 'brownout', 'stall', 'crash'].join(', ')})`)
    }
    this.rates = kind === undefined ? [] : this.rates.filter((r) => r.kind !== kind)
    this.timeline = kind === undefined ? [] : this.timeline.filter((s) => s.fault.kind !== kind)
    if ((kind === undefined || kind === 'brownout') && this.brownoutUntil > this.clock.now()) {
      this.engine.inject({ kind: 'brownout', factor: 1, durationMs: 0 })
      this.brownoutUntil = Number.NEGATIVE_INFINITY
    }
    this.arm()
  }

  /** One seeded draw: the per-request fault this request gets, if any. Always consumes one number. */
  draw(): RateFault | undefined {
    const u = this.rng.next()
    let acc = 0
    for (const r of this.rates) {
      acc += r.rate
      if (u < acc) return r
    }
    return undefined
  }

  /** Counts a fault played (for GET /admin/faults and /metrics). */
  count(kind: RequestFaultKind | TimedFault['kind'] | 'http_400'): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1)
  }

  injectedCounts(): ReadonlyMap<string, number> {
    return this.injected
  }

  status(): FaultStatus {
    const now = this.clock.now()
    return {
      rates: this.rates.map(faultToJson),
      upcoming: this.timeline.map((s) => ({ ...faultToJson(s.fault), in_ms: Math.max(0, Math.round(s.at - (this.running ? now : 0))) })),
      brownout: this.brownoutUntil > now ? { factor: this.brownoutFactor, remaining_ms: Number.isFinite(this.brownoutUntil) ? Math.round(this.brownoutUntil - now) : null } : null,
      injected: Object.fromEntries([...this.injected].sort(([a], [b]) => a.localeCompare(b)))
    }
  }

  private fireDue(): void {
    this.timer = undefined
    const now = this.clock.now()
    while (this.timeline.length > 0 && this.timeline[0].at <= now) {
      const s = this.timeline.shift() as Scheduled
      this.play(s, now)
    }
    this.arm()
  }

  private arm(): void {
    this.timer?.cancel()
    this.timer = undefined
    if (!this.running || this.timeline.length === 0) return
    this.timer = this.clock.setTimer(() => { this.fireDue() }, this.timeline[0].at - this.clock.now())
  }

  private play(s: Scheduled, now: number): void {
    const f = s.fault
    if (f.kind === 'brownout') {
      // A window already over (its timer came late, or it was added after its end) is skipped.
      if (s.end !== null && s.end <= now) return
      this.engine.inject({ kind: 'brownout', factor: f.factor, durationMs: s.end === null ? 0 : s.end - now })
      this.brownoutFactor = f.factor
      this.brownoutUntil = s.end ?? Number.POSITIVE_INFINITY
    } else if (f.kind === 'stall') {
      this.engine.inject(f.replica === undefined ? { kind: 'stall', durationMs: f.durationMs } : { kind: 'stall', durationMs: f.durationMs, replica: f.replica })
    } else {
      this.engine.inject({ kind: 'crash', replica: f.replica, restartMs: f.restartMs })
    }
    this.count(f.kind)
  }
}
