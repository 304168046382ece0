import {
  COUNTER_FIELDS,
  MAX_ENCODED_HISTOGRAM_CHARS,
  METRIC_NAMES,
  addCounters,
  copyHistogram,
  createHistogram,
  decodeInto,
  emptyCounters,
  encodeHistogram,
  isMetricName,
  mergeSnapshots
} from '@loadmesh/metrics'
import type { Counters, Histogram, MetricName, WindowSnapshot } from '@loadmesh/metrics'
import { LIMITS, windowFromWire } from '@loadmesh/protocol'
import type { ReconcileResponse, ResultsDelta, WireWindow } from '@loadmesh/protocol'
import { canonicalJson, compareIds } from './canonical.ts'
import { describeCoverage } from './coverage.ts'
import type { Coverage, CoverageOptions, PeerCoverage, WindowRange } from './coverage.ts'

/*
 * Results as a grow-only CRDT: a map from (run, peer, window index) to the window snapshot with the
 * highest revision (ties: closed over open, then content order). Taking the maximum is commutative,
 * associative and idempotent, so duplicates, late arrivals and any delivery order give the same
 * state; the merged result is the bucket-wise sum over the keys.
 *
 * The sum is kept up to date as windows arrive (add the new snapshot, subtract the one it replaces),
 * so merged() costs the same at the end of an hour-long run as after one second. Decoding a window's
 * histograms into the running sums is also what validates them: a window costs one decode, and no
 * window is ever held decoded (9 metrics × 188 KB each).
 */

/**
 * added: a new key. replaced: a higher revision of a known key. duplicate: the same snapshot again.
 * stale: a lower revision (or a tie that loses). rejected: invalid input (counted, see rejections()).
 */
export type PutOutcome = 'added' | 'replaced' | 'duplicate' | 'stale' | 'rejected'

/**
 * ERR_BAD_KEY: run or peer id is not 1..128 printable ASCII. ERR_BAD_SNAPSHOT: shape or counters
 * (metrics' decodeSnapshot rules). ERR_BAD_HISTOGRAM: a histogram that does not decode, or an
 * unknown-name one that is not base64 within the size limit. ERR_NOT_A_WINDOW: start_ms is not
 * index × duration_ms (a merged snapshot, not a recorder window). ERR_OUT_OF_RANGE: index above
 * maxWindowIndex, or more histograms than a window may carry.
 */
export type RejectCode = 'ERR_BAD_KEY' | 'ERR_BAD_SNAPSHOT' | 'ERR_BAD_HISTOGRAM' | 'ERR_NOT_A_WINDOW' | 'ERR_OUT_OF_RANGE'

export interface Rejections {
  total: number
  by_code: Partial<Record<RejectCode, number>>
  /** The latest rejection, naming the run, peer, window and problem. */
  last: { code: RejectCode; message: string } | null
}

export interface PutSummary {
  added: number
  replaced: number
  duplicate: number
  stale: number
  rejected: number
}

/** Counters and histograms summed over every (peer, window) key of a run. */
export interface MergedResults {
  run_id: string
  /** Peers with at least one window, sorted. */
  peers: string[]
  /** Number of (peer, window) keys merged. */
  windows: number
  counters: Counters
  /** Every metric (empty when nobody recorded it). Copies, shared by calls until the run changes: read, do not modify. */
  histograms: Record<MetricName, Histogram>
  first_index: number | null
  last_index: number | null
  /** Windows still open (their peer may still revise them). */
  open_windows: number
}

/** One peer's changed windows: what goes into one ResultsDelta (after windowToWire). */
export interface PeerDelta {
  run_id: string
  peer_id: string
  /** Sorted by index. */
  windows: WindowSnapshot[]
}

export interface ChangeSet {
  /** Pass this as `cursor` next time. */
  cursor: number
  deltas: PeerDelta[]
  windows: number
  /** The limit cut the set short: call again with the new cursor. */
  more: boolean
}

export interface ResultsStoreOptions {
  /** Highest window index accepted (default 200 000, the run recorder's own limit). */
  maxWindowIndex?: number
}

export interface ResultsStore {
  /**
   * Stores a window of `peerId` for `runId` unless a snapshot with a higher revision is held.
   * Validated before it is stored; never throws (bad input is counted and gives 'rejected').
   * Stored snapshots are frozen copies.
   */
  put(runId: string, peerId: string, snapshot: unknown): PutOutcome
  /** Every window of a ResultsDelta (gossip). */
  putDelta(delta: ResultsDelta): PutSummary
  /** Every window of a reconcile response frame. */
  putReconcile(response: ReconcileResponse): PutSummary
  /** Sum over all (peer, window) keys of the run; cached until the run changes. */
  merged(runId: string): MergedResults
  /** The mesh-wide window per index (every peer's window of that index added), sorted by index. */
  mergedWindows(runId: string): WindowSnapshot[]
  /** Which peers and windows are in and which are missing, as data and as one sentence. */
  coverage(runId: string, options?: CoverageOptions): Coverage
  /** A peer's windows sorted by index (a reconcile answer). */
  peerWindows(runId: string, peerId: string): WindowSnapshot[]
  peers(runId: string): string[]
  runs(): string[]
  /**
   * The windows whose stored snapshot changed after `cursor` (0 = everything), grouped by peer, in
   * change order up to `limit` windows. Publishing these and keeping the returned cursor sends each
   * revision once. `peer` restricts to one peer (an agent publishing its own windows).
   */
  changesSince(runId: string, cursor: number, options?: { peer?: string; limit?: number }): ChangeSet
  /** The store's change counter (a cursor that covers everything stored so far). */
  cursor(): number
  rejections(): Rejections
  forgetRun(runId: string): void
}

export function createResultsStore(options: ResultsStoreOptions = {}): ResultsStore {
  return new Store(options)
}

interface Entry {
  snapshot: WindowSnapshot
  /** Store change counter when this snapshot was stored. */
  seq: number
}

interface RunData {
  peers: Map<string, Map<number, Entry>>
  /** Bumped on every stored change. */
  version: number
  /** Running sums over every stored snapshot. */
  counters: Counters
  sums: Partial<Record<MetricName, Histogram>>
  merged: { version: number; value: MergedResults } | null
  /** Mesh-wide window per index, recomputed only for the indices in `dirty`. */
  series: Map<number, WindowSnapshot>
  dirty: Set<number>
}

const ID_RE = /^[\x21-\x7e]{1,128}$/
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/

class Rejected extends Error {
  readonly code: RejectCode
  constructor(code: RejectCode, message: string) {
    super(message)
    this.code = code
  }
}

class Store implements ResultsStore {
  private readonly maxIndex: number
  private readonly data = new Map<string, RunData>()
  private seq = 0
  private readonly rejects: Rejections = { total: 0, by_code: {}, last: null }
  /** Where a stored window's histograms are decoded again to subtract them when it is replaced. */
  private readonly scratch = createHistogram()
  /** Accumulators for mergedWindows, allocated on first use. */
  private seriesAcc: Histogram[] | null = null

  constructor(o: ResultsStoreOptions) {
    this.maxIndex = o.maxWindowIndex ?? 200_000
  }

  put(runId: string, peerId: string, snapshot: unknown): PutOutcome {
    try {
      return this.putChecked(runId, peerId, snapshot)
    } catch (err) {
      const code: RejectCode = err instanceof Rejected ? err.code : metricsCode(err)
      this.rejects.total++
      this.rejects.by_code[code] = (this.rejects.by_code[code] ?? 0) + 1
      this.rejects.last = { code, message: err instanceof Error ? err.message : String(err) }
      return 'rejected'
    }
  }

  private putChecked(runId: string, peerId: string, snapshot: unknown): PutOutcome {
    if (typeof runId !== 'string' || !ID_RE.test(runId)) throw new Rejected('ERR_BAD_KEY', `results: bad run id ${show(runId)}`)
    if (typeof peerId !== 'string' || !ID_RE.test(peerId)) {
      throw new Rejected('ERR_BAD_KEY', `results of run ${runId}: bad peer id ${show(peerId)}`)
    }
    const candidate = normalize(snapshot, `run ${runId} peer ${peerId}`)
    const where = `run ${runId} peer ${peerId} window ${candidate.index}`
    if (candidate.start_ms !== candidate.index * candidate.duration_ms) {
      throw new Rejected(
        'ERR_NOT_A_WINDOW',
        `${where}: start_ms ${candidate.start_ms} is not index × duration_ms (${candidate.index} × ${candidate.duration_ms})`
      )
    }
    if (candidate.index > this.maxIndex) throw new Rejected('ERR_OUT_OF_RANGE', `${where}: index above the limit of ${this.maxIndex}`)
    const held = this.data.get(runId)?.peers.get(peerId)?.get(candidate.index)
    if (held !== undefined) {
      const order = compareWindows(candidate, held.snapshot)
      if (order === 0) return 'duplicate'
      if (order < 0) return 'stale'
    }
    checkUnknownHistograms(candidate, where)
    let run = this.data.get(runId)
    if (run === undefined) {
      run = { peers: new Map(), version: 0, counters: emptyCounters(), sums: {}, merged: null, series: new Map(), dirty: new Set() }
      this.data.set(runId, run)
    }
    try {
      this.addToSums(run, candidate, where)
    } catch (err) {
      if (run.peers.size === 0) this.data.delete(runId)
      throw err
    }
    if (held !== undefined) this.subtractFromSums(run, held.snapshot)
    freeze(candidate)
    let windows = run.peers.get(peerId)
    if (windows === undefined) run.peers.set(peerId, (windows = new Map()))
    windows.set(candidate.index, { snapshot: candidate, seq: ++this.seq })
    run.version++
    run.dirty.add(candidate.index)
    return held === undefined ? 'added' : 'replaced'
  }

  /** Decodes the histograms into the run's sums (validating them); on a bad one, undoes the others and throws. */
  private addToSums(run: RunData, s: WindowSnapshot, where: string): void {
    const done: MetricName[] = []
    try {
      for (const m of METRIC_NAMES) {
        const enc = s.histograms[m]
        if (enc === undefined) continue
        decodeInto((run.sums[m] ??= createHistogram()), enc, `${where} histogram ${m}`)
        done.push(m)
      }
    } catch (err) {
      for (const m of done) this.subtractEncoded(run.sums[m] as Histogram, s.histograms[m] as string)
      throw err
    }
    addCounters(run.counters, s.counters)
  }

  private subtractFromSums(run: RunData, s: WindowSnapshot): void {
    for (const m of METRIC_NAMES) {
      const enc = s.histograms[m]
      if (enc !== undefined) this.subtractEncoded(run.sums[m] as Histogram, enc)
    }
    subtractCounters(run.counters, s.counters)
  }

  /** `enc` was added to `target` before (so it decodes, and every count is there to take away). */
  private subtractEncoded(target: Histogram, enc: string): void {
    decodeInto(this.scratch, enc, 'stored window')
    // The library's subtract also re-establishes min and max when the extremes went away.
    target.subtract(this.scratch)
    this.scratch.reset()
  }

  putDelta(delta: ResultsDelta): PutSummary {
    return this.putWire(delta.run_id, [{ peer_id: delta.peer_id, windows: delta.windows }])
  }

  putReconcile(response: ReconcileResponse): PutSummary {
    return this.putWire(response.run_id, response.peers)
  }

  private putWire(runId: string, groups: ReadonlyArray<{ peer_id: string; windows: readonly WireWindow[] }>): PutSummary {
    const sum: PutSummary = { added: 0, replaced: 0, duplicate: 0, stale: 0, rejected: 0 }
    for (const g of groups) {
      for (const w of g.windows) {
        let snapshot: unknown
        try {
          snapshot = windowFromWire(w)
        } catch {
          snapshot = w // put() rejects it with the reason
        }
        sum[this.put(runId, g.peer_id, snapshot)]++
      }
    }
    return sum
  }

  merged(runId: string): MergedResults {
    const run = this.data.get(runId)
    if (run?.merged != null && run.merged.version === run.version) return run.merged.value
    const counters = emptyCounters()
    const histograms = {} as Record<MetricName, Histogram>
    for (const m of METRIC_NAMES) {
      const sum = run?.sums[m]
      histograms[m] = sum === undefined ? createHistogram() : copyHistogram(sum)
    }
    let windows = 0
    let open = 0
    let first: number | null = null
    let last: number | null = null
    if (run !== undefined) {
      addCounters(counters, run.counters)
      for (const peerWindows of run.peers.values()) {
        for (const { snapshot: s } of peerWindows.values()) {
          windows++
          if (!s.closed) open++
          first = first === null ? s.index : Math.min(first, s.index)
          last = last === null ? s.index : Math.max(last, s.index)
        }
      }
    }
    const peers = run === undefined ? [] : [...run.peers.keys()].sort(compareIds)
    const value: MergedResults = { run_id: runId, peers, windows, counters, histograms, first_index: first, last_index: last, open_windows: open }
    if (run !== undefined) run.merged = { version: run.version, value }
    return value
  }

  mergedWindows(runId: string): WindowSnapshot[] {
    const run = this.data.get(runId)
    if (run === undefined) return []
    const peers = [...run.peers.keys()].sort(compareIds)
    for (const i of run.dirty) {
      const list: WindowSnapshot[] = []
      for (const p of peers) {
        const e = run.peers.get(p)?.get(i)
        if (e !== undefined) list.push(e.snapshot)
      }
      if (list.length > 0) run.series.set(i, Object.freeze(this.sumWindows(list)))
    }
    run.dirty.clear()
    return [...run.series.keys()].sort((a, b) => a - b).map((i) => run.series.get(i) as WindowSnapshot)
  }

  /**
   * What metrics' mergeSnapshots computes for stored (already validated) windows, decoding into
   * histograms reused from one index to the next instead of allocating 9 × 188 KB per index.
   */
  private sumWindows(list: readonly WindowSnapshot[]): WindowSnapshot {
    const acc = (this.seriesAcc ??= METRIC_NAMES.map(() => createHistogram()))
    const counters = emptyCounters()
    let start = Infinity
    let end = -Infinity
    let revision = 0
    let closed = true
    const histograms: WindowSnapshot['histograms'] = {}
    try {
      for (const s of list) {
        addCounters(counters, s.counters)
        start = Math.min(start, s.start_ms)
        end = Math.max(end, s.start_ms + s.duration_ms)
        revision += s.revision
        closed &&= s.closed
        METRIC_NAMES.forEach((m, k) => {
          const enc = s.histograms[m]
          if (enc !== undefined) decodeInto(acc[k], enc, 'stored window')
        })
      }
      METRIC_NAMES.forEach((m, k) => {
        if (acc[k].totalCount > 0) histograms[m] = encodeHistogram(acc[k])
      })
    } finally {
      for (const h of acc) if (h.totalCount > 0) h.reset()
    }
    return { index: list[0].index, start_ms: start, duration_ms: end - start, closed, revision, counters, histograms }
  }

  coverage(runId: string, options: CoverageOptions = {}): Coverage {
    const run = this.data.get(runId)
    const have = new Map<string, Map<number, Entry>>(run?.peers ?? [])
    const live = options.livePeers === undefined ? null : new Set(options.livePeers)
    const names = new Set<string>([...have.keys(), ...(options.peers ?? [])])
    let runUntil = 0
    for (const w of have.values()) for (const i of w.keys()) runUntil = Math.max(runUntil, i + 1)
    const peers: PeerCoverage[] = []
    for (const peer of [...names].sort(compareIds)) {
      const windows = have.get(peer) ?? new Map<number, Entry>()
      const isLive = live === null ? null : live.has(peer)
      let own = 0
      for (const i of windows.keys()) own = Math.max(own, i + 1)
      const asked = options.expectedUntil
      const wanted =
        typeof asked === 'number'
          ? asked
          : asked !== undefined && asked[peer] !== undefined
            ? asked[peer]
            : // A live peer (or one known to exist but silent) should have everything the run has so far;
              // a dead peer is only expected to have what it published before it died.
              isLive === true || windows.size === 0
              ? runUntil
              : own
      // A window index past the store's limit can never arrive; it is not worth a loop.
      const until = Math.max(0, Math.min(Math.floor(wanted), this.maxIndex + 1))
      const from = Math.max(0, Math.min(until, Math.floor(options.expectedFrom?.[peer] ?? 0)))
      const missing: WindowRange[] = []
      let present = 0
      for (let i = from; i < until; i++) {
        if (windows.has(i)) {
          present++
          continue
        }
        const lastRange = missing.at(-1)
        if (lastRange !== undefined && lastRange.to === i - 1) lastRange.to = i
        else missing.push({ from: i, to: i })
      }
      let open = 0
      let beyond = 0
      for (const [i, e] of windows) {
        if (!e.snapshot.closed) open++
        if (i >= until || i < from) beyond++
      }
      peers.push({ peer_id: peer, live: isLive, from, until, expected: until - from, present, missing, missing_count: until - from - present, open, beyond })
    }
    return describeCoverage(runId, peers)
  }

  peerWindows(runId: string, peerId: string): WindowSnapshot[] {
    const w = this.data.get(runId)?.peers.get(peerId)
    if (w === undefined) return []
    return [...w.values()].map((e) => e.snapshot).sort((a, b) => a.index - b.index)
  }

  peers(runId: string): string[] {
    return [...(this.data.get(runId)?.peers.keys() ?? [])].sort(compareIds)
  }

  runs(): string[] {
    return [...this.data.keys()].sort(compareIds)
  }

  changesSince(runId: string, cursor: number, options: { peer?: string; limit?: number } = {}): ChangeSet {
    const limit = options.limit ?? Infinity
    const run = this.data.get(runId)
    const changed: Array<{ peer: string; e: Entry }> = []
    if (run !== undefined) {
      for (const [peer, windows] of run.peers) {
        if (options.peer !== undefined && peer !== options.peer) continue
        for (const e of windows.values()) if (e.seq > cursor) changed.push({ peer, e })
      }
    }
    changed.sort((a, b) => a.e.seq - b.e.seq)
    const more = changed.length > limit
    const taken = more ? changed.slice(0, limit) : changed
    const byPeer = new Map<string, WindowSnapshot[]>()
    for (const { peer, e } of taken) {
      let list = byPeer.get(peer)
      if (list === undefined) byPeer.set(peer, (list = []))
      list.push(e.snapshot)
    }
    const deltas = [...byPeer.keys()].sort(compareIds).map((peer_id) => ({
      run_id: runId,
      peer_id,
      windows: (byPeer.get(peer_id) as WindowSnapshot[]).sort((a, b) => a.index - b.index)
    }))
    return { cursor: more ? (taken.at(-1) as { e: Entry }).e.seq : Math.max(cursor, this.seq), deltas, windows: taken.length, more }
  }

  cursor(): number {
    return this.seq
  }

  rejections(): Rejections {
    return { total: this.rejects.total, by_code: { ...this.rejects.by_code }, last: this.rejects.last }
  }

  forgetRun(runId: string): void {
    this.data.delete(runId)
  }
}

/**
 * A clean copy with metrics' snapshot rules applied to shape and counters. mergeSnapshots over the
 * snapshot alone, without its histograms, runs exactly those rules and decodes nothing.
 */
function normalize(value: unknown, where: string): WindowSnapshot {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Rejected('ERR_BAD_SNAPSHOT', `${where}: expected a window snapshot object, got ${show(value)}`)
  }
  const o = value as Record<string, unknown>
  const hs = o.histograms
  if (typeof hs !== 'object' || hs === null || Array.isArray(hs)) throw new Rejected('ERR_BAD_SNAPSHOT', `${where}: "histograms" must be an object`)
  const checked = mergeSnapshots([{ ...o, histograms: {} }], where)
  const histograms: Record<string, string> = {}
  for (const [k, v] of Object.entries(hs)) {
    if (typeof v !== 'string') throw new Rejected('ERR_BAD_HISTOGRAM', `${where}: histogram ${JSON.stringify(k.slice(0, 64))} must be a base64 string`)
    histograms[k] = v
  }
  // Zero entries mean nothing; dropping them keeps the running sums' keys exactly those of a fresh sum.
  for (const map of [checked.counters.errors, checked.counters.clamped]) {
    for (const k of Object.keys(map)) if (map[k] === 0) delete map[k]
  }
  return {
    index: o.index as number,
    start_ms: o.start_ms as number,
    duration_ms: o.duration_ms as number,
    closed: o.closed as boolean,
    revision: o.revision as number,
    counters: checked.counters,
    histograms: histograms as WindowSnapshot['histograms']
  }
}

/** Histograms under names this version does not know are kept for relaying, so they must be what the wire can carry. */
function checkUnknownHistograms(s: WindowSnapshot, where: string): void {
  const entries = Object.entries(s.histograms)
  if (entries.length > LIMITS.histogramsPerWindow) {
    throw new Rejected('ERR_OUT_OF_RANGE', `${where}: ${entries.length} histograms (limit ${LIMITS.histogramsPerWindow})`)
  }
  for (const [name, enc] of entries) {
    if (isMetricName(name)) continue
    if (typeof enc !== 'string' || enc.length > MAX_ENCODED_HISTOGRAM_CHARS || enc.length % 4 !== 0 || !BASE64_RE.test(enc)) {
      throw new Rejected('ERR_BAD_HISTOGRAM', `${where} histogram ${JSON.stringify(name.slice(0, 64))}: not base64 within ${MAX_ENCODED_HISTOGRAM_CHARS} characters`)
    }
  }
}

function subtractCounters(target: Counters, source: Counters): void {
  for (const f of COUNTER_FIELDS) target[f] -= source[f]
  for (const m of ['errors', 'clamped'] as const) {
    const t = target[m]
    for (const [k, v] of Object.entries(source[m])) {
      const left = (t[k] ?? 0) - v
      if (left === 0) delete t[k]
      else t[k] = left
    }
  }
}

/** The order the CRDT keeps the maximum of: revision, then closed over open, then content. */
function compareWindows(a: WindowSnapshot, b: WindowSnapshot): number {
  if (a.revision !== b.revision) return a.revision < b.revision ? -1 : 1
  if (a.closed !== b.closed) return a.closed ? 1 : -1
  if (sameWindow(a, b)) return 0
  const ca = canonicalJson(a)
  const cb = canonicalJson(b)
  return ca < cb ? -1 : ca > cb ? 1 : 0
}

/** Fast equality for the common case of the same snapshot arriving again (no serialization). */
function sameWindow(a: WindowSnapshot, b: WindowSnapshot): boolean {
  if (a.index !== b.index || a.start_ms !== b.start_ms || a.duration_ms !== b.duration_ms) return false
  if (!sameRecord(a.histograms, b.histograms)) return false
  const ca = a.counters as unknown as Record<string, unknown>
  const cb = b.counters as unknown as Record<string, unknown>
  for (const k of Object.keys(ca)) {
    if (k === 'errors' || k === 'clamped') continue
    if (ca[k] !== cb[k]) return false
  }
  return sameRecord(a.counters.errors, b.counters.errors) && sameRecord(a.counters.clamped, b.counters.clamped)
}

function sameRecord(a: object, b: object): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) if ((a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k] || !Object.hasOwn(b, k)) return false
  return true
}

function freeze(s: WindowSnapshot): void {
  Object.freeze(s.counters.errors)
  Object.freeze(s.counters.clamped)
  Object.freeze(s.counters)
  Object.freeze(s.histograms)
  Object.freeze(s)
}

function metricsCode(err: unknown): RejectCode {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ERR_BAD_HISTOGRAM' ? 'ERR_BAD_HISTOGRAM' : 'ERR_BAD_SNAPSHOT'
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v
}
