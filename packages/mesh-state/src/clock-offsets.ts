import { clockSample } from '@loadmesh/protocol'
import type { ClockSample, Heartbeat } from '@loadmesh/protocol'
import { compareIds } from './canonical.ts'
import { MeshArgumentError } from './errors.ts'

/** Our view of one peer's wall clock, from the last samples of its heartbeat echoes. */
export interface PeerClockOffset {
  peer_id: string
  /** Median over the kept samples of (their wall clock − ours), ms. Positive: they are ahead. */
  offset_ms: number
  /** Median round trip, ms. */
  rtt_ms: number
  /** The offset of the sample with the smallest round trip (its error is at most min_rtt_ms / 2). */
  best_offset_ms: number
  min_rtt_ms: number
  /** Samples kept (at most the window size). */
  samples: number
}

export interface ClockOffsetsOptions {
  selfId: string
  /** Samples kept per peer (default 8): a median over a few heartbeats rides out one slow trip. */
  window?: number
}

export interface ClockOffsets {
  /**
   * Takes the echo of our own heartbeat out of `hb` (if it carries one) and returns the sample, or
   * null (no echo for us, an impossible one, or the same heartbeat again). `receivedWallMs`: our
   * wall clock when it arrived. Feed it the heartbeats Membership accepted (replays are not samples).
   */
  onHeartbeat(hb: Heartbeat, receivedWallMs: number): ClockSample | null
  offset(peerId: string): PeerClockOffset | null
  /** Every peer with samples, sorted by peer id. */
  all(): PeerClockOffset[]
  forget(peerId: string): void
}

export function createClockOffsets(options: ClockOffsetsOptions): ClockOffsets {
  const window = options.window ?? 8
  if (!Number.isSafeInteger(window) || window < 1) throw new MeshArgumentError(`createClockOffsets: window must be a positive integer, got ${window}`)
  const selfId = options.selfId
  const samples = new Map<string, ClockSample[]>()
  const lastSeq = new Map<string, number>()

  function summary(peerId: string, list: readonly ClockSample[]): PeerClockOffset {
    let best = list[0]
    for (const s of list) if (s.rtt_ms < best.rtt_ms) best = s
    return {
      peer_id: peerId,
      offset_ms: median(list.map((s) => s.offset_ms)),
      rtt_ms: median(list.map((s) => s.rtt_ms)),
      best_offset_ms: best.offset_ms,
      min_rtt_ms: best.rtt_ms,
      samples: list.length
    }
  }

  return {
    onHeartbeat(hb, receivedWallMs) {
      if (hb.peer_id === selfId) return null
      // The same heartbeat delivered twice would count its sample twice.
      if (lastSeq.get(hb.peer_id) === hb.seq) return null
      lastSeq.set(hb.peer_id, hb.seq)
      const echo = hb.echo.find((e) => e.peer_id === selfId)
      if (echo === undefined) return null
      const s = clockSample(echo, hb.wall_ms, receivedWallMs)
      if (s === null || !Number.isFinite(s.offset_ms)) return null
      let list = samples.get(hb.peer_id)
      if (list === undefined) samples.set(hb.peer_id, (list = []))
      list.push(s)
      if (list.length > window) list.shift()
      return s
    },
    offset(peerId) {
      const list = samples.get(peerId)
      return list === undefined || list.length === 0 ? null : summary(peerId, list)
    },
    all() {
      return [...samples.keys()].sort(compareIds).map((id) => summary(id, samples.get(id) as ClockSample[]))
    },
    forget(peerId) {
      samples.delete(peerId)
      lastSeq.delete(peerId)
    }
  }
}

/** Median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
