import type { Command, EpochChange, Member } from '@loadmesh/protocol'
import { compareIds } from './canonical.ts'
import { commandRef, compareCommands } from './command-order.ts'
import type { CommandRef } from './command-order.ts'
import { MeshArgumentError } from './errors.ts'

/*
 * Epochs: the load is shared by a member set that only changes at agreed plan-relative times. Any
 * peer that sees the live agent set differ from the latest epoch's proposes epoch latest+1 starting
 * at the next aligned time at least a margin ahead (so the proposal reaches everyone before it
 * applies). Proposals form a set; every peer resolves the same set to the same timeline.
 */

/** An epoch in force: from `start_ms` (ms after T0) until the next epoch's start. */
export interface ResolvedEpoch {
  epoch: number
  start_ms: number
  /** Sorted by peer id. */
  members: Member[]
  command: CommandRef
}

/** A membership change as the report shows it. */
export interface Rebalance {
  epoch: number
  start_ms: number
  members: Member[]
  joined: string[]
  left: string[]
  /** Members whose weight changed. */
  reweighted: string[]
  /** e.g. "initial: 5 agents", "left: p3", "joined: p6; weight changed: p1". */
  reason: string
  command: CommandRef
}

export interface DiscardedProposal {
  command: CommandRef
  epoch: number
  start_ms: number
  /** lost: another proposal for the same epoch ranks higher. overtaken: a later epoch starts no later. */
  why: 'lost' | 'overtaken'
}

export interface EpochTimeline {
  run_id: string
  /** The epochs that take effect, in increasing epoch number and start time. */
  epochs: ResolvedEpoch[]
  rebalances: Rebalance[]
  discarded: DiscardedProposal[]
  /** The highest epoch (the one a proposal compares the live set with); null when there is none. */
  latest: ResolvedEpoch | null
}

type EpochCommand = Command & { body: { type: 'epoch'; epoch: EpochChange } }

function isEpochCommand(c: Command): c is EpochCommand {
  return c.body.type === 'epoch'
}

/** Total order of proposals: epoch number, then Lamport stamp, then command id. Highest wins. */
export function compareEpochProposals(a: Command, b: Command): number {
  const ea = isEpochCommand(a) ? a.body.epoch.epoch : -1
  const eb = isEpochCommand(b) ? b.body.epoch.epoch : -1
  if (ea !== eb) return ea < eb ? -1 : 1
  return compareCommands(a, b)
}

/**
 * The timeline of `runId` from a set of commands (others, and other runs' epochs, are ignored).
 * Duplicates and arrival order do not matter: per epoch number the highest (Lamport, id) proposal
 * wins, and an epoch is dropped when a higher-numbered one starts no later than it.
 */
export function resolveEpochs(runId: string, commands: Iterable<Command>): EpochTimeline {
  const winners = new Map<number, EpochCommand>()
  const discarded: DiscardedProposal[] = []
  const seen = new Set<string>()
  for (const c of commands) {
    if (!isEpochCommand(c) || c.body.epoch.run_id !== runId) continue
    const n = c.body.epoch.epoch
    const best = winners.get(n)
    if (best === undefined) {
      winners.set(n, c)
      continue
    }
    const cmp = compareCommands(c, best)
    if (cmp === 0) continue
    const loser = cmp > 0 ? best : c
    if (cmp > 0) winners.set(n, c)
    const key = `${loser.lamport}\u0000${loser.id}`
    if (!seen.has(key)) {
      seen.add(key)
      discarded.push(discard(loser, 'lost'))
    }
  }
  const byNumber = [...winners.values()].sort(compareEpochProposals)
  const kept: EpochCommand[] = []
  let minStart = Infinity
  for (let i = byNumber.length - 1; i >= 0; i--) {
    const c = byNumber[i]
    if (c.body.epoch.start_ms < minStart) {
      kept.push(c)
      minStart = c.body.epoch.start_ms
    } else {
      discarded.push(discard(c, 'overtaken'))
    }
  }
  kept.reverse()
  const epochs = kept.map(
    (c): ResolvedEpoch => ({
      epoch: c.body.epoch.epoch,
      start_ms: c.body.epoch.start_ms,
      members: sortMembers(c.body.epoch.members),
      command: commandRef(c)
    })
  )
  discarded.sort((a, b) => a.epoch - b.epoch || a.command.lamport - b.command.lamport || compareIds(a.command.id, b.command.id))
  return { run_id: runId, epochs, rebalances: rebalancesOf(epochs), discarded, latest: epochs.at(-1) ?? null }
}

function discard(c: EpochCommand, why: DiscardedProposal['why']): DiscardedProposal {
  return { command: commandRef(c), epoch: c.body.epoch.epoch, start_ms: c.body.epoch.start_ms, why }
}

function sortMembers(members: readonly Member[]): Member[] {
  return members.map((m) => ({ peer_id: m.peer_id, weight: m.weight })).sort((a, b) => compareIds(a.peer_id, b.peer_id))
}

function rebalancesOf(epochs: readonly ResolvedEpoch[]): Rebalance[] {
  return epochs.map((e, i) => {
    const before = new Map((i === 0 ? [] : epochs[i - 1].members).map((m) => [m.peer_id, m.weight]))
    const now = new Map(e.members.map((m) => [m.peer_id, m.weight]))
    const joined = e.members.filter((m) => !before.has(m.peer_id)).map((m) => m.peer_id)
    const left = [...before.keys()].filter((p) => !now.has(p))
    const reweighted = e.members.filter((m) => before.has(m.peer_id) && before.get(m.peer_id) !== m.weight).map((m) => m.peer_id)
    const parts: string[] = []
    if (i === 0) {
      parts.push(`initial: ${e.members.length} agent${e.members.length === 1 ? '' : 's'}`)
    } else {
      if (left.length > 0) parts.push(`left: ${left.join(', ')}`)
      if (joined.length > 0) parts.push(`joined: ${joined.join(', ')}`)
      if (reweighted.length > 0) parts.push(`weight changed: ${reweighted.join(', ')}`)
      if (parts.length === 0) parts.push('same members (re-proposed)')
    }
    return {
      epoch: e.epoch,
      start_ms: e.start_ms,
      members: e.members,
      joined: i === 0 ? [] : joined,
      left,
      reweighted,
      reason: parts.join('; '),
      command: e.command
    }
  })
}

/** The epoch in force at `relMs` (ms after T0), or null before the first one starts. */
export function epochAt(timeline: EpochTimeline, relMs: number): ResolvedEpoch | null {
  let found: ResolvedEpoch | null = null
  for (const e of timeline.epochs) {
    if (e.start_ms <= relMs) found = e
    else break
  }
  return found
}

/**
 * The start of a new epoch proposed at `nowRelMs`: the first multiple of `alignMs` at least
 * `marginMs` ahead. Aligning makes concurrent proposers agree on the time more often; the margin
 * gives the proposal time to reach every peer before it applies.
 */
export function nextEpochStart(nowRelMs: number, alignMs = 1000, marginMs = 1500): number {
  if (!Number.isFinite(nowRelMs)) throw new MeshArgumentError(`nextEpochStart: now must be finite, got ${nowRelMs}`)
  if (!Number.isSafeInteger(alignMs) || alignMs <= 0) throw new MeshArgumentError(`nextEpochStart: alignMs must be a positive integer, got ${alignMs}`)
  if (!Number.isFinite(marginMs) || marginMs < 0) throw new MeshArgumentError(`nextEpochStart: marginMs must be >= 0, got ${marginMs}`)
  return Math.ceil((nowRelMs + marginMs) / alignMs) * alignMs + 0
}

export interface ProposeInput {
  run_id: string
  timeline: EpochTimeline
  /** The live agents as the proposer sees them (Membership.loadMembers()). */
  live: readonly Member[]
  /** Now, ms after T0 (negative before the start). */
  nowRelMs: number
  alignMs?: number
  marginMs?: number
  /** The plan's total duration: no epoch is proposed at or after the end. */
  durationMs?: number
  /**
   * When every peer declares the lost members dead, ms after T0: the latest of their last
   * heartbeats' own wall_ms, minus T0, plus deadAfterMs. Every survivor computes the same number
   * from the same gossip, so for a change that only loses members, the epoch starts exactly then
   * (if that is at most `maxLateMs` ago): survivors take over at once, concurrent proposers agree
   * on the time, and a peer that hears the proposal a few ms later catches up on those arrivals.
   */
  agreedDeathMs?: number
  /** How far in the past an agreed death may be and still be the start. Default 200 ms. */
  maxLateMs?: number
}

/**
 * The EpochChange this peer should propose, or null when the latest epoch already has exactly the
 * live agents (or nobody is live, or the run would end first). The first epoch is 0 and starts at 0
 * when there is time before T0. The caller stamps it (`lamport.tick()`), signs and publishes it, and
 * adopts it locally like any received command.
 */
export function proposeEpochChange(input: ProposeInput): EpochChange | null {
  const live = sortMembers(input.live)
  if (live.length === 0) return null
  const latest = input.timeline.latest
  if (latest !== null && sameMembers(latest.members, live)) return null
  const start = Math.max(0, latest !== null && onlyLosses(latest.members, live) && agreedOk(input)
    ? Math.ceil(input.agreedDeathMs as number)
    : nextEpochStart(input.nowRelMs, input.alignMs, input.marginMs))
  if (input.durationMs !== undefined && start >= input.durationMs) return null
  return { run_id: input.run_id, epoch: latest === null ? 0 : latest.epoch + 1, start_ms: start, members: live }
}

function sameMembers(a: readonly Member[], b: readonly Member[]): boolean {
  return a.length === b.length && a.every((m, i) => m.peer_id === b[i].peer_id && m.weight === b[i].weight)
}

/** Every live member was in the epoch with the same weight: the change is members lost, nothing else. */
function onlyLosses(before: readonly Member[], live: readonly Member[]): boolean {
  const w = new Map(before.map((m) => [m.peer_id, m.weight]))
  return live.length < before.length && live.every((m) => w.get(m.peer_id) === m.weight)
}

function agreedOk(input: ProposeInput): boolean {
  const t = input.agreedDeathMs
  if (t === undefined || !Number.isFinite(t)) return false
  const maxLate = input.maxLateMs ?? 200
  // Far ahead means the dead peer's clock was off: never later than the plain next start.
  return t >= input.nowRelMs - maxLate && t <= nextEpochStart(input.nowRelMs, input.alignMs, input.marginMs)
}
