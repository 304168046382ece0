import type { Clock, Timer } from '@loadmesh/clock'
import type { Heartbeat, Member, PeerRole } from '@loadmesh/protocol'
import { compareIds } from './canonical.ts'
import { MeshArgumentError } from './errors.ts'

/**
 * alive: heard from within suspectAfterMs. suspect: silent longer, but still counted as live (a
 * few lost heartbeats must not trigger a rebalance). dead: silent for deadAfterMs; its share moves
 * to the survivors at the next epoch. Being degraded is a flag on a live member, never a state.
 */
export type MemberState = 'alive' | 'suspect' | 'dead'

export interface MemberView {
  peer_id: string
  role: PeerRole
  weight: number
  state: MemberState
  degraded: boolean
  /** This is the local peer (never suspect or dead). */
  self: boolean
  /** Monotonic ms (the membership's clock) at which the last accepted heartbeat arrived. */
  last_seen_ms: number
  /** How long it has been silent, ms. */
  silent_ms: number
  /** Times a heartbeat restarted the peer's sequence after it was declared dead (a restarted process). */
  restarts: number
  /** The last accepted heartbeat (run, epoch, plan, load counters, loop delay, listen addrs, ...). */
  heartbeat: Heartbeat
}

export interface MembershipChange {
  peer_id: string
  /** null when the peer was unknown. */
  previous: MemberView | null
  current: MemberView
  /** Monotonic ms of the change. */
  at_ms: number
}

/**
 * new: first heartbeat of an unknown peer. accepted: a newer heartbeat. restart: a dead peer's
 * sequence started again with a later wall clock (the process restarted with the same identity).
 * replay: seq not above the last one seen, or a wall clock more than deadAfterMs behind the last
 * one's; ignored.
 */
export type HeartbeatOutcome = 'new' | 'accepted' | 'restart' | 'replay'

export interface MembershipOptions {
  clock: Clock
  selfId: string
  suspectAfterMs?: number
  deadAfterMs?: number
}

export interface Membership {
  /** `receivedAt`: monotonic ms (default clock.now()). Feed our own heartbeats too, so we are a member. */
  onHeartbeat(hb: Heartbeat, receivedAt?: number): HeartbeatOutcome
  /** Every member ever heard from (dead ones included), sorted by peer id, states as of now. */
  members(): MemberView[]
  member(peerId: string): MemberView | undefined
  /** Members that are alive or suspect, sorted by peer id. */
  live(): MemberView[]
  /**
   * The live agents as share members ({ peer_id, weight }, sorted by peer id): what an epoch change
   * proposes. Controllers are members but carry no load; degraded agents keep their share.
   */
  loadMembers(): Member[]
  /** Called on every change of state, degraded flag, role or weight, in peer-id order. Returns an unsubscribe function. */
  onChange(listener: (change: MembershipChange) => void): () => void
  /** Re-evaluates states against the clock (a timer does this at each deadline; calling it is harmless). */
  refresh(): void
  stats(): { accepted: number; replays: number; restarts: number }
  /** Cancels the pending timer. */
  close(): void
}

export function createMembership(options: MembershipOptions): Membership {
  return new MembershipImpl(options)
}

interface Entry {
  hb: Heartbeat
  lastSeen: number
  restarts: number
  /** The view listeners last saw (null before the first one). */
  reported: MemberView | null
}

class MembershipImpl implements Membership {
  private readonly clock: Clock
  private readonly selfId: string
  private readonly suspectAfter: number
  private readonly deadAfter: number
  private readonly entries = new Map<string, Entry>()
  private readonly listeners = new Set<(c: MembershipChange) => void>()
  private timer: Timer | null = null
  private timerAt = Infinity
  private closed = false
  private counts = { accepted: 0, replays: 0, restarts: 0 }

  constructor(o: MembershipOptions) {
    this.clock = o.clock
    this.selfId = o.selfId
    this.suspectAfter = o.suspectAfterMs ?? 3000
    this.deadAfter = o.deadAfterMs ?? 5000
    if (typeof o.selfId !== 'string' || o.selfId.length === 0) throw new MeshArgumentError('createMembership: selfId is empty')
    if (!(this.suspectAfter > 0) || !Number.isFinite(this.suspectAfter)) {
      throw new MeshArgumentError(`createMembership: suspectAfterMs must be > 0, got ${this.suspectAfter}`)
    }
    if (!(this.deadAfter > this.suspectAfter) || !Number.isFinite(this.deadAfter)) {
      throw new MeshArgumentError(
        `createMembership: deadAfterMs (${this.deadAfter}) must be finite and greater than suspectAfterMs (${this.suspectAfter})`
      )
    }
  }

  onHeartbeat(hb: Heartbeat, receivedAt = this.clock.now()): HeartbeatOutcome {
    const e = this.entries.get(hb.peer_id)
    let outcome: HeartbeatOutcome
    if (e === undefined) {
      outcome = 'new'
    } else if (hb.wall_ms < e.hb.wall_ms - this.deadAfter) {
      // Sent long before the last accepted one by the sender's own clock: a replay, possibly of a
      // previous incarnation with a higher seq than the restarted process has reached.
      this.counts.replays++
      return 'replay'
    } else if (hb.seq > e.hb.seq) {
      outcome = 'accepted'
    } else if (this.stateOf(e, this.clock.now()) === 'dead' && hb.wall_ms > e.hb.wall_ms) {
      // A restarted process starts its sequence again; a replay carries an old wall clock.
      outcome = 'restart'
    } else {
      this.counts.replays++
      return 'replay'
    }
    this.counts.accepted++
    const now = this.clock.now()
    if (e === undefined) {
      const entry: Entry = { hb, lastSeen: receivedAt, restarts: 0, reported: null }
      this.entries.set(hb.peer_id, entry)
      this.report(hb.peer_id, entry, now)
    } else {
      if (outcome === 'restart') {
        e.restarts++
        this.counts.restarts++
      }
      e.hb = hb
      // Delivery can be reordered with a later receipt time recorded first; time never goes back.
      e.lastSeen = Math.max(e.lastSeen, receivedAt)
      this.report(hb.peer_id, e, now)
    }
    this.arm(now)
    return outcome
  }

  members(): MemberView[] {
    this.refresh()
    const now = this.clock.now()
    return this.sortedIds().map((id) => this.view(id, this.entries.get(id) as Entry, now))
  }

  member(peerId: string): MemberView | undefined {
    this.refresh()
    const e = this.entries.get(peerId)
    return e === undefined ? undefined : this.view(peerId, e, this.clock.now())
  }

  live(): MemberView[] {
    return this.members().filter((m) => m.state !== 'dead')
  }

  loadMembers(): Member[] {
    return this.live()
      .filter((m) => m.role === 'agent')
      .map((m) => ({ peer_id: m.peer_id, weight: m.weight }))
  }

  onChange(listener: (change: MembershipChange) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  refresh(): void {
    const now = this.clock.now()
    for (const id of this.sortedIds()) this.report(id, this.entries.get(id) as Entry, now)
    this.arm(now)
  }

  stats(): { accepted: number; replays: number; restarts: number } {
    return { ...this.counts }
  }

  close(): void {
    this.closed = true
    this.timer?.cancel()
    this.timer = null
  }

  private sortedIds(): string[] {
    return [...this.entries.keys()].sort(compareIds)
  }

  private stateOf(e: Entry, now: number): MemberState {
    if (e.hb.peer_id === this.selfId) return 'alive'
    const silent = now - e.lastSeen
    if (silent >= this.deadAfter) return 'dead'
    if (silent >= this.suspectAfter) return 'suspect'
    return 'alive'
  }

  private view(id: string, e: Entry, now: number): MemberView {
    return {
      peer_id: id,
      role: e.hb.role,
      weight: e.hb.weight,
      state: this.stateOf(e, now),
      degraded: e.hb.degraded,
      self: id === this.selfId,
      last_seen_ms: e.lastSeen,
      silent_ms: Math.max(0, now - e.lastSeen),
      restarts: e.restarts,
      heartbeat: e.hb
    }
  }

  /** Emits a change when what a listener cares about differs from what it was last told. */
  private report(id: string, e: Entry, now: number): void {
    const current = this.view(id, e, now)
    const prev = e.reported
    if (
      prev !== null &&
      prev.state === current.state &&
      prev.degraded === current.degraded &&
      prev.role === current.role &&
      prev.weight === current.weight &&
      prev.restarts === current.restarts
    ) {
      e.reported = current
      return
    }
    e.reported = current
    this.emit({ peer_id: id, previous: prev, current, at_ms: now })
  }

  private emit(change: MembershipChange): void {
    for (const l of [...this.listeners]) l(change)
  }

  /**
   * One timer, at the earliest upcoming alive→suspect or suspect→dead deadline. A heartbeat only
   * ever moves its sender's deadline later, so a timer already set at or before the earliest
   * deadline is kept: it fires a little early, refresh() finds nothing due and re-arms. That is one
   * timer per deadline window instead of a cancel and a new timer for every heartbeat received
   * (N - 1 per second in a mesh of N).
   */
  private arm(now: number): void {
    if (this.closed) return
    let next = Infinity
    for (const e of this.entries.values()) {
      if (e.hb.peer_id === this.selfId) continue
      const s = e.lastSeen + this.suspectAfter
      const d = e.lastSeen + this.deadAfter
      if (s > now) next = Math.min(next, s)
      else if (d > now) next = Math.min(next, d)
    }
    if (next === this.timerAt) return
    if (this.timer !== null && this.timerAt > now && this.timerAt <= next) return
    this.timer?.cancel()
    this.timer = null
    this.timerAt = next
    if (next === Infinity) return
    this.timer = this.clock.setTimer(() => {
      this.timer = null
      this.timerAt = Infinity
      this.refresh()
    }, next - now)
  }
}
