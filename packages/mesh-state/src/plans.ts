import type { Clock } from '@loadmesh/clock'
import type { Command, RunPlan } from '@loadmesh/protocol'
import { commandRef, compareCommands } from './command-order.ts'
import type { CommandRef } from './command-order.ts'
import { resolveEpochs } from './epochs.ts'
import type { EpochTimeline } from './epochs.ts'
import { createLamportClock } from './lamport.ts'
import type { LamportClock } from './lamport.ts'

/**
 * pending: before T0. running: between T0 and T0 + the stages' total duration. finished: after it.
 * stopped / aborted: a stop / abort for the run is known (whenever it arrived; abort outranks stop).
 */
export type RunState = 'pending' | 'running' | 'stopped' | 'aborted' | 'finished'

export interface PlanStatus {
  run_id: string
  plan: RunPlan
  /** The plan command that won (highest Lamport stamp, ties by id). */
  command: CommandRef
  state: RunState
  start_wall_ms: number
  /** start + the stages' total duration. */
  end_wall_ms: number
  duration_ms: number
  /** Wall time since T0 (negative before it): the plan-relative "now" for epochs and schedules. */
  elapsed_ms: number
  /** The first stop for the run (lowest Lamport stamp, then id), if any. */
  stop: CommandRef | null
  abort: (CommandRef & { reason: string }) | null
  epochs: EpochTimeline
}

/**
 * adopted: a plan that is now the current one. superseded: a plan that loses to the current one.
 * recorded: a stop, abort or epoch proposal that changed the state. duplicate: nothing new.
 * wrong-mesh: for another mesh, ignored.
 */
export type AdoptOutcome = 'adopted' | 'superseded' | 'recorded' | 'duplicate' | 'wrong-mesh'

export interface AdoptResult {
  outcome: AdoptOutcome
  kind: Command['body']['type']
  command: CommandRef
}

export interface PlanStoreOptions {
  /** For the wall clock (plan state is relative to the plan's wall-clock T0). */
  clock: Clock
  /** When given, commands for another mesh are ignored (the mesh layer should already have refused them). */
  mesh?: string
  /** Runs whose stops, aborts and epochs are remembered (oldest by Lamport stamp forgotten first). Default 1024. */
  maxRuns?: number
}

export interface PlanStore {
  /**
   * Takes in a command whose signature the mesh has verified. Order and repetition do not matter:
   * the state is a function of the set of commands adopted. Observes the command's stamp.
   */
  adopt(command: Command): AdoptResult
  /** The winning plan and its state at `wallNowMs` (default clock.wallNow()); null before any plan. */
  current(wallNowMs?: number): PlanStatus | null
  /** The epoch timeline of a run (empty when none is known). Only winning proposals are kept, so `discarded` lists overtaken epochs, not lost proposals. */
  timeline(runId: string): EpochTimeline
  /** Every command the state depends on, in (Lamport, id) order: what to re-announce to a peer that joins late. */
  commands(): Command[]
  /** `tick()` to stamp a command this peer issues. */
  readonly lamport: LamportClock
}

export function createPlanStore(options: PlanStoreOptions): PlanStore {
  return new Store(options)
}

interface RunEvents {
  stop: Command | null
  abort: Command | null
  /** Winning proposal per epoch number (losers never matter again). */
  epochs: Map<number, Command>
  /** Highest stamp of anything about this run, for forgetting the oldest runs first. */
  stamp: number
  timeline: EpochTimeline | null
}

class Store implements PlanStore {
  readonly lamport = createLamportClock()
  private readonly clock: Clock
  private readonly mesh: string | undefined
  private readonly maxRuns: number
  private plan: Command | null = null
  private readonly runs = new Map<string, RunEvents>()

  constructor(o: PlanStoreOptions) {
    this.clock = o.clock
    this.mesh = o.mesh
    this.maxRuns = o.maxRuns ?? 1024
  }

  adopt(c: Command): AdoptResult {
    const result = (outcome: AdoptOutcome): AdoptResult => ({ outcome, kind: c.body.type, command: commandRef(c) })
    if (this.mesh !== undefined && c.mesh !== this.mesh) return result('wrong-mesh')
    this.lamport.observe(c.lamport)
    const b = c.body
    switch (b.type) {
      case 'plan': {
        if (this.plan === null) {
          this.plan = c
          return result('adopted')
        }
        const cmp = compareCommands(c, this.plan)
        if (cmp === 0) return result('duplicate')
        if (cmp < 0) return result('superseded')
        this.plan = c
        return result('adopted')
      }
      case 'stop':
      case 'abort': {
        const r = this.run(b.type === 'stop' ? b.stop.run_id : b.abort.run_id, c.lamport)
        const held = r[b.type]
        // The earliest one is kept, so the report names the same command on every peer.
        if (held !== null && compareCommands(c, held) >= 0) return result('duplicate')
        r[b.type] = c
        return result(held === null ? 'recorded' : 'duplicate')
      }
      case 'epoch': {
        const r = this.run(b.epoch.run_id, c.lamport)
        const held = r.epochs.get(b.epoch.epoch)
        if (held !== undefined && compareCommands(c, held) <= 0) return result('duplicate')
        r.epochs.set(b.epoch.epoch, c)
        r.timeline = null
        return result('recorded')
      }
    }
  }

  current(wallNowMs = this.clock.wallNow()): PlanStatus | null {
    const c = this.plan
    if (c === null || c.body.type !== 'plan') return null
    const plan = c.body.plan
    const duration = plan.stages.reduce((sum, s) => sum + s.duration_ms, 0)
    const start = plan.start_wall_ms
    const r = this.runs.get(plan.run_id)
    const stop = r?.stop ?? null
    const abort = r?.abort ?? null
    let state: RunState
    if (abort !== null) state = 'aborted'
    else if (stop !== null) state = 'stopped'
    else if (wallNowMs < start) state = 'pending'
    else if (wallNowMs < start + duration) state = 'running'
    else state = 'finished'
    return {
      run_id: plan.run_id,
      plan,
      command: commandRef(c),
      state,
      start_wall_ms: start,
      end_wall_ms: start + duration,
      duration_ms: duration,
      elapsed_ms: wallNowMs - start,
      stop: stop === null ? null : commandRef(stop),
      abort: abort === null || abort.body.type !== 'abort' ? null : { ...commandRef(abort), reason: abort.body.abort.reason },
      epochs: this.timeline(plan.run_id)
    }
  }

  timeline(runId: string): EpochTimeline {
    const r = this.runs.get(runId)
    if (r === undefined) return resolveEpochs(runId, [])
    r.timeline ??= resolveEpochs(runId, r.epochs.values())
    return r.timeline
  }

  commands(): Command[] {
    const out: Command[] = []
    if (this.plan !== null) out.push(this.plan)
    for (const r of this.runs.values()) {
      if (r.stop !== null) out.push(r.stop)
      if (r.abort !== null) out.push(r.abort)
      out.push(...r.epochs.values())
    }
    return out.sort(compareCommands)
  }

  private run(runId: string, stamp: number): RunEvents {
    let r = this.runs.get(runId)
    if (r === undefined) {
      r = { stop: null, abort: null, epochs: new Map(), stamp, timeline: null }
      this.runs.set(runId, r)
      this.forgetOldest()
    }
    r.stamp = Math.max(r.stamp, stamp)
    return r
  }

  /** Bounded memory: stops for runs that never come are kept, but not forever. The current run is never forgotten. */
  private forgetOldest(): void {
    while (this.runs.size > this.maxRuns) {
      const keep = this.plan?.body.type === 'plan' ? this.plan.body.plan.run_id : undefined
      let victim: string | undefined
      let low = Infinity
      for (const [id, r] of this.runs) {
        if (id !== keep && r.stamp < low) {
          low = r.stamp
          victim = id
        }
      }
      if (victim === undefined) return
      this.runs.delete(victim)
    }
  }
}
