import type { RunPlan } from '@loadmesh/protocol'
import type { EpochTimeline, ResolvedEpoch } from './epochs.ts'
import { arrivalSeedLabel, computeShares, openLoopRate, splitConcurrency } from './shares.ts'
import type { Share } from './shares.ts'

/**
 * One piece of an agent's schedule: a stage within an epoch (both change only at interval edges).
 * Times are ms after T0. Outside every epoch, or when the agent is not a member, it sends nothing.
 */
export interface ScheduleInterval {
  from_ms: number
  to_ms: number
  stage: number
  /** null before the first epoch starts (nobody carries load yet). */
  epoch: number | null
  mode: 'open' | 'closed' | 'idle'
  /** This agent's segment of [0, 1), null when it is not a member of the epoch. */
  share: Share | null
  /** This agent's requests per second (open loop). */
  rate: number
  /** This agent's requests in flight (closed loop). */
  concurrency: number
  mesh_rate: number
  mesh_concurrency: number
  /** Split the plan's Rng with this for the interval's arrivals (see arrivalSeedLabel); null when not a member. */
  seed_label: string | null
}

/**
 * What `selfId` must do over the whole plan, given the epoch timeline: stage boundaries and epoch
 * starts cut the plan into intervals; in each, the agent takes its share (by weight, among the epoch's
 * members) of the stage's mesh-wide rate, or its largest-remainder part of the concurrency. Survivors
 * of a lost agent, and a joining agent, get their new shares from the epoch that lists them.
 */
export function scheduleFor(plan: RunPlan, epochs: EpochTimeline | readonly ResolvedEpoch[], selfId: string): ScheduleInterval[] {
  const list = [...('epochs' in epochs ? epochs.epochs : epochs)].sort((a, b) => a.start_ms - b.start_ms || a.epoch - b.epoch)
  const out: ScheduleInterval[] = []
  let stageStart = 0
  plan.stages.forEach((stage, stageIndex) => {
    const stageEnd = stageStart + stage.duration_ms
    const cuts = [stageStart]
    for (const e of list) if (e.start_ms > stageStart && e.start_ms < stageEnd) cuts.push(e.start_ms)
    cuts.push(stageEnd)
    for (let i = 0; i + 1 < cuts.length; i++) {
      const epoch = epochIn(list, cuts[i])
      const mode = stage.rate > 0 ? 'open' : stage.concurrency > 0 ? 'closed' : 'idle'
      const share = epoch === null ? null : (computeShares(epoch.members).find((s) => s.peer_id === selfId) ?? null)
      let concurrency = 0
      if (share !== null && epoch !== null && stage.concurrency > 0) {
        concurrency = splitConcurrency(stage.concurrency, epoch.members).find((c) => c.peer_id === selfId)?.concurrency ?? 0
      }
      out.push({
        from_ms: cuts[i],
        to_ms: cuts[i + 1],
        stage: stageIndex,
        epoch: epoch === null ? null : epoch.epoch,
        mode,
        share,
        rate: share === null ? 0 : openLoopRate(stage.rate, share),
        concurrency,
        mesh_rate: stage.rate,
        mesh_concurrency: stage.concurrency,
        seed_label: share === null || epoch === null ? null : arrivalSeedLabel(selfId, epoch.epoch)
      })
    }
    stageStart = stageEnd
  })
  return out
}

/** The interval of a schedule containing `relMs`, or null outside the plan. */
export function intervalAt(schedule: readonly ScheduleInterval[], relMs: number): ScheduleInterval | null {
  return schedule.find((s) => s.from_ms <= relMs && relMs < s.to_ms) ?? null
}

function epochIn(list: readonly ResolvedEpoch[], t: number): ResolvedEpoch | null {
  let found: ResolvedEpoch | null = null
  for (const e of list) if (e.start_ms <= t) found = e
  return found
}
