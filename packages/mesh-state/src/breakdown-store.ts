import { decodeBreakdownSnapshot, encodeBreakdownSnapshot, newerSnapshot } from '@loadmesh/metrics'
import type { BreakdownSnapshot } from '@loadmesh/metrics'

/**
 * Each peer's latest cumulative breakdown per run. Unlike windows this is not a grow-only set: a
 * snapshot replaces the previous one of its (run, peer) when it covers more finished requests
 * (metrics' newerSnapshot), so duplicates and reordered answers are harmless and an older
 * snapshot can never undo a newer one. The last snapshot heard of a peer stays after it dies.
 */
export interface BreakdownStore {
  /** Keeps `snapshot` when it is newer than the one held; returns whether it was kept. */
  put(runId: string, peerId: string, snapshot: BreakdownSnapshot): boolean
  /**
   * Decodes untrusted bytes (a reconcile response's PeerWindows.breakdown) and keeps them when
   * newer. Never throws on bad input: `ok: false` with the reason, for the caller to count.
   */
  putEncoded(runId: string, peerId: string, bytes: Uint8Array): { ok: true; kept: boolean } | { ok: false; reason: string }
  get(runId: string, peerId: string): BreakdownSnapshot | undefined
  /** The held snapshot's wire bytes (the bytes received, or encoded once for a local snapshot). */
  encoded(runId: string, peerId: string): Uint8Array | undefined
  /** Peers with a snapshot in `runId`, sorted. */
  peers(runId: string): string[]
}

export interface BreakdownStoreOptions {
  /** Runs kept (oldest first out); default 16: a breakdown can be megabytes. */
  maxRuns?: number
}

interface Entry {
  snapshot: BreakdownSnapshot
  bytes: Uint8Array | null
}

export function createBreakdownStore(o: BreakdownStoreOptions = {}): BreakdownStore {
  return new Store(o.maxRuns ?? 16)
}

class Store implements BreakdownStore {
  private readonly runs = new Map<string, Map<string, Entry>>()
  private readonly maxRuns: number

  constructor(maxRuns: number) {
    this.maxRuns = maxRuns
  }

  put(runId: string, peerId: string, snapshot: BreakdownSnapshot): boolean {
    return this.keep(runId, peerId, { snapshot, bytes: null })
  }

  putEncoded(runId: string, peerId: string, bytes: Uint8Array): { ok: true; kept: boolean } | { ok: false; reason: string } {
    let snapshot: BreakdownSnapshot
    try {
      snapshot = decodeBreakdownSnapshot(bytes, `breakdown of ${peerId} in run ${runId}`)
    } catch (err) {
      return { ok: false, reason: (err as Error).message }
    }
    return { ok: true, kept: this.keep(runId, peerId, { snapshot, bytes }) }
  }

  get(runId: string, peerId: string): BreakdownSnapshot | undefined {
    return this.runs.get(runId)?.get(peerId)?.snapshot
  }

  encoded(runId: string, peerId: string): Uint8Array | undefined {
    const e = this.runs.get(runId)?.get(peerId)
    if (e === undefined) return undefined
    e.bytes ??= encodeBreakdownSnapshot(e.snapshot)
    return e.bytes
  }

  peers(runId: string): string[] {
    return [...(this.runs.get(runId)?.keys() ?? [])].sort()
  }

  private keep(runId: string, peerId: string, e: Entry): boolean {
    let run = this.runs.get(runId)
    if (run === undefined) {
      run = new Map()
      this.runs.set(runId, run)
      if (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value as string)
    }
    if (!newerSnapshot(e.snapshot, run.get(peerId)?.snapshot)) return false
    run.set(peerId, e)
    return true
  }
}
