import type { ClockSample } from '@loadmesh/protocol'
import { compareIds } from './canonical.ts'
import { MeshArgumentError } from './errors.ts'

/**
 * Our view of one peer's wall clock, from rounds of direct clock probes (a few NTP exchanges each,
 * see the mesh's measureClock). Offsets are the peer's wall clock minus ours, ms; positive: it is ahead.
 */
export interface PeerClockOffset {
  peer_id: string
  /** Median over the kept rounds of each round's best offset (robust to one disturbed round). */
  offset_ms: number
  /** Median over the kept rounds of each round's shortest round trip. */
  rtt_ms: number
  /**
   * The estimate to correct with: the best sample (shortest round trip) of the round whose error
   * bound (`error_ms`) is smallest. Its error is at most `error_ms`, whatever the paths' asymmetry.
   */
  best_offset_ms: number
  /** That sample's round trip. */
  min_rtt_ms: number
  /**
   * Bound on |best_offset_ms − true offset| as of the latest round: half the sample's round trip,
   * plus DRIFT_PPM of its age relative to the latest round (two free-running clocks drift apart).
   */
  error_ms: number
  /** Samples kept (every probe of the kept rounds). */
  samples: number
  /** Rounds kept (at most the window). */
  rounds: number
}

export interface ClockOffsetsOptions {
  selfId: string
  /** Rounds kept per peer (default 4). */
  window?: number
  /**
   * A peer is probed again this long after its last round (default 30 000 ms), spread ±20% per
   * peer; but `warmupMs` after it while fewer than `window` rounds are kept or the round was much
   * looser than the best kept one.
   */
  refreshMs?: number
  /** See refreshMs (default 3000 ms). */
  warmupMs?: number
  /** After a failed round, the next try comes this much later (default 2000 ms). */
  retryMs?: number
}

export interface ClockOffsets {
  /**
   * One round of probes of `peerId` (each sample from protocol's clockSample) finished at monotonic
   * `now`. Impossible samples (negative or non-finite) are dropped; returns the peer's estimate, or
   * null when the round held no usable sample (then it counts as a failure for the schedule).
   */
  onRound(peerId: string, samples: readonly (ClockSample | null)[], now: number): PeerClockOffset | null
  /** A round that could not be done (timeout, peer gone): retried after `retryMs`. */
  onFailure(peerId: string, now: number): void
  /** A round of `peerId` has started; it is not due again until it ends. */
  onStart(peerId: string, now: number): void
  /**
   * Which of `peers` to probe at monotonic `now`: never measured (first), then the stalest whose
   * refresh time has come; none in flight, never ourselves. At most `max`.
   */
  due(peers: readonly string[], now: number, max: number): string[]
  offset(peerId: string): PeerClockOffset | null
  /** Every peer with samples, sorted by peer id. */
  all(): PeerClockOffset[]
  forget(peerId: string): void
}

/** Frequency error assumed between two hosts' free-running clocks (a cheap crystal; NTP-disciplined ones do far better). */
export const DRIFT_PPM = 50

interface Round {
  at: number
  best: ClockSample
  samples: number
}

interface PeerState {
  rounds: Round[]
  /** Monotonic ms at which the next round is due. */
  dueAt: number
  inFlight: boolean
}

export function createClockOffsets(options: ClockOffsetsOptions): ClockOffsets {
  const window = options.window ?? 4
  if (!Number.isSafeInteger(window) || window < 1) throw new MeshArgumentError(`createClockOffsets: window must be a positive integer, got ${window}`)
  const refreshMs = options.refreshMs ?? 30_000
  const retryMs = options.retryMs ?? 2000
  const warmupMs = options.warmupMs ?? 3000
  if (!(refreshMs > 0)) throw new MeshArgumentError(`createClockOffsets: refreshMs must be positive, got ${refreshMs}`)
  if (!(warmupMs > 0)) throw new MeshArgumentError(`createClockOffsets: warmupMs must be positive, got ${warmupMs}`)
  if (!(retryMs > 0)) throw new MeshArgumentError(`createClockOffsets: retryMs must be positive, got ${retryMs}`)
  const selfId = options.selfId
  const peers = new Map<string, PeerState>()

  function state(peerId: string): PeerState {
    let s = peers.get(peerId)
    if (s === undefined) peers.set(peerId, (s = { rounds: [], dueAt: Number.NEGATIVE_INFINITY, inFlight: false }))
    return s
  }

  function summary(peerId: string, rounds: readonly Round[]): PeerClockOffset {
    const latest = rounds[rounds.length - 1].at
    let pick = rounds[rounds.length - 1]
    let bound = Number.POSITIVE_INFINITY
    for (const r of rounds) {
      const b = r.best.rtt_ms / 2 + (latest - r.at) * DRIFT_PPM * 1e-6
      if (b < bound) { bound = b; pick = r }
    }
    return {
      peer_id: peerId,
      offset_ms: median(rounds.map((r) => r.best.offset_ms)),
      rtt_ms: median(rounds.map((r) => r.best.rtt_ms)),
      best_offset_ms: pick.best.offset_ms,
      min_rtt_ms: pick.best.rtt_ms,
      error_ms: bound,
      samples: rounds.reduce((n, r) => n + r.samples, 0),
      rounds: rounds.length
    }
  }

  return {
    onRound(peerId, samples, now) {
      if (peerId === selfId) return null
      const s = state(peerId)
      s.inFlight = false
      let best: ClockSample | null = null
      let n = 0
      for (const x of samples) {
        if (x === null || !Number.isFinite(x.offset_ms) || !Number.isFinite(x.rtt_ms) || x.rtt_ms < 0) continue
        n++
        if (best === null || x.rtt_ms < best.rtt_ms) best = x
      }
      if (best === null) {
        s.dueAt = now + retryMs
        return s.rounds.length === 0 ? null : summary(peerId, s.rounds)
      }
      const tightest = Math.min(...s.rounds.map((r) => r.best.rtt_ms))
      s.rounds.push({ at: now, best, samples: n })
      if (s.rounds.length > window) s.rounds.shift()
      // Until the window is full, and after a round much looser than the best kept one (a busy
      // peer, a loaded link), the next round comes sooner: the estimate is only as good as the
      // tightest round, and the first ones are taken while a mesh forms, when every peer is busy.
      // Not much sooner: a round costs ~7 ms of CPU on the two sides (measured on loopback, mostly
      // opening the stream), and at join a peer has a round due with every other.
      const warming = s.rounds.length < window || best.rtt_ms > 3 * tightest
      s.dueAt = now + (warming ? warmupMs : refreshMs) * spread(peerId)
      return summary(peerId, s.rounds)
    },
    onFailure(peerId, now) {
      const s = state(peerId)
      s.inFlight = false
      s.dueAt = now + retryMs
    },
    onStart(peerId) {
      state(peerId).inFlight = true
    },
    due(list, now, max) {
      const out: Array<{ id: string, dueAt: number }> = []
      for (const id of list) {
        if (id === selfId) continue
        const s = peers.get(id)
        if (s === undefined) { out.push({ id, dueAt: Number.NEGATIVE_INFINITY }); continue }
        if (!s.inFlight && s.dueAt <= now) out.push({ id, dueAt: s.rounds.length === 0 ? Number.NEGATIVE_INFINITY : s.dueAt })
      }
      out.sort((a, b) => a.dueAt - b.dueAt || compareIds(a.id, b.id))
      return out.slice(0, Math.max(0, max)).map((x) => x.id)
    },
    offset(peerId) {
      const s = peers.get(peerId)
      return s === undefined || s.rounds.length === 0 ? null : summary(peerId, s.rounds)
    },
    all() {
      return [...peers.keys()].filter((id) => (peers.get(id) as PeerState).rounds.length > 0).sort(compareIds)
        .map((id) => summary(id, (peers.get(id) as PeerState).rounds))
    },
    forget(peerId) {
      peers.delete(peerId)
    }
  }
}

/**
 * 0.8..1.2 from the peer id: refreshes of many peers, all first measured when a mesh forms, spread
 * out over time instead of all coming due in the same tick (deterministic, so tests need no RNG).
 */
function spread(peerId: string): number {
  let h = 2166136261
  for (let i = 0; i < peerId.length; i++) h = Math.imul(h ^ peerId.charCodeAt(i), 16777619)
  return 0.8 + 0.4 * ((h >>> 0) / 0xffffffff)
}

/** Median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
