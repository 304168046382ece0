import { summarize, metricScale, addCounters, emptyCounters, checkSloGate, goodput, mergeBreakdowns } from '@loadmesh/metrics'
import type { Breakdown, Counters, Goodput, Slo, Summary } from '@loadmesh/metrics'
import { LATENCY_METRICS, productionWeighted, reportBreakdown } from '@loadmesh/report'
import type { LatencyMetric, ProductionWeighted, ReportBreakdown } from '@loadmesh/report'
import { computeShares } from '@loadmesh/mesh-state'
import type { BreakdownStore, Coverage, EpochTimeline, PeerClockOffset, Rebalance, ResultsStore } from '@loadmesh/mesh-state'
import type { RunPlan } from '@loadmesh/protocol'

/**
 * The mesh-wide result of a run, built from the merged results CRDT. buildReport (report package)
 * reads one RunRecorder, so it cannot take merged windows; this keeps its field names where the
 * meaning is the same (requests, latency_ms) and adds what only a mesh has.
 */
export interface MeshReport {
  schema: 'loadmesh.mesh-report/v1'
  run_id: string
  /** Which peer built it. */
  built_by: string
  requests: {
    scheduled: number
    sent: number
    completed: number
    failed: number
    dropped: number
    error_rate: number
    errors: Record<string, number>
  }
  tokens: { input_total: number; output_total: number }
  /** The plan's duration (all stages), ms; null when the plan is not known to the builder. */
  planned_duration_ms: number | null
  latency_ms: Record<LatencyMetric, Summary>
  /**
   * Requests that met the run's SLO (counted by every agent with the plan's --slo), over the
   * planned duration; as the local report's goodput.
   */
  goodput: Goodput
  /** The run's --slo checked on the merged result, as the local report does; null without an SLO. */
  slo_gate: { pass: boolean; percentile: string; reasons: string[] } | null
  /** Merged counters, as summed over every (peer, window). */
  counters: Counters
  agents: MeshReportAgent[]
  coverage: { text: string; complete: boolean; expected: number; present: number; missing: number }
  rebalances: Rebalance[]
  clock_offsets: PeerClockOffset[]
  /** Peers that answered the reconcile request, and those that did not (with why). */
  reconcile: { answered: string[]; failed: Array<{ peer_id: string; error: string }> }
  /**
   * Per endpoint / class / adversarial kind, as in a single-agent report, merged over every
   * peer's latest breakdown snapshot (counters summed, histograms merged). Absent when no peer
   * keeps a breakdown or no dimension has two values. Covers only the requests the snapshots
   * cover: see breakdown_coverage.
   */
  breakdown?: ReportBreakdown
  /** The production-weighted view (long-tail runs), merged the same way. */
  production_weighted?: ProductionWeighted
  /** Whose breakdown is in, and how fresh; present when any peer's breakdown is. */
  breakdown_coverage?: BreakdownCoverage
}

/**
 * A breakdown snapshot is cumulative and travels only in reconcile answers, so a peer killed
 * before any reconcile has none (missing), and one that died after answering is in up to that
 * answer (stale when its windows show more finished requests than its snapshot covers).
 */
export interface BreakdownCoverage {
  /** Every peer with finished requests is in with a final or up-to-date snapshot. */
  complete: boolean
  /** Finished requests (completed + failed) the merged breakdown covers, and in the merged windows. */
  finished_covered: number
  finished_total: number
  peers: BreakdownPeerCoverage[]
  text: string
}

export interface BreakdownPeerCoverage {
  peer_id: string
  /** 'complete': covers every finished request its windows show; 'stale': fewer; 'missing': no snapshot. */
  status: 'complete' | 'stale' | 'missing'
  /** Finished requests its snapshot covers (0 when missing) and its windows show. */
  finished_in_breakdown: number
  finished_in_windows: number
  /** The snapshot was taken after the peer's run ended. */
  final: boolean
}

export interface MeshReportAgent {
  peer_id: string
  /** Share of the last epoch that listed this peer (0..1); null when it was never a member. */
  share: number | null
  /** Epochs that listed it. */
  epochs: number[]
  windows: number
  counters: Counters
  coverage_text: string | null
  live: boolean | null
}

export interface BuildMeshReportInput {
  runId: string
  selfId: string
  results: ResultsStore
  timeline: EpochTimeline
  livePeers: readonly string[]
  clockOffsets: PeerClockOffset[]
  reconcile: MeshReport['reconcile']
  /** Each peer's latest breakdown snapshot (absent: the report has no breakdown). */
  breakdowns?: BreakdownStore
  /** The run's plan, when known: its duration bounds the expected windows, its config gives the SLO. */
  plan?: RunPlan | null
}

export function buildMeshReport(i: BuildMeshReportInput): MeshReport {
  const merged = i.results.merged(i.runId)
  const c = merged.counters
  const latency = {} as Record<LatencyMetric, Summary>
  for (const m of LATENCY_METRICS) latency[m] = summarize(merged.histograms[m], { scale: metricScale(m) })
  const plan = i.plan ?? null
  const durationMs = plan === null ? null : plan.stages.reduce((sum, st) => sum + st.duration_ms, 0)
  const members = new Set<string>()
  for (const e of i.timeline.epochs) for (const m of e.members) members.add(m.peer_id)
  const span = expectedWindows(i, durationMs, merged.last_index === null ? 0 : merged.last_index + 1)
  const coverage: Coverage = i.results.coverage(i.runId, { peers: [...members], livePeers: i.livePeers, ...span })
  const peers = new Set<string>([...members, ...i.results.peers(i.runId)])
  // Each epoch's shares once, not once per peer: exact shares are BigInt work. Recomputed per peer,
  // they were 42 of the 286 ms a controller was busy in a profiled reconcile of 16 agents (its first).
  const epochShares = i.timeline.epochs.map((e) => ({ epoch: e.epoch, shares: new Map(computeShares(e.members).map((x) => [x.peer_id, x.share])) }))
  const coverageOf = new Map(coverage.peers.map((p) => [p.peer_id, p]))
  const agents: MeshReportAgent[] = [...peers].sort().map((peer) => {
    const windows = i.results.peerWindows(i.runId, peer)
    const counters = emptyCounters()
    for (const w of windows) addCounters(counters, w.counters)
    let share: number | null = null
    const epochs: number[] = []
    for (const e of epochShares) {
      const s = e.shares.get(peer)
      if (s !== undefined) { share = s; epochs.push(e.epoch) }
    }
    const pc = coverageOf.get(peer)
    return {
      peer_id: peer,
      share,
      epochs,
      windows: windows.length,
      counters,
      coverage_text: pc === undefined ? null : `${pc.present}/${pc.expected} windows${pc.missing_count > 0 ? `, ${pc.missing_count} missing` : ''}`,
      live: pc?.live ?? null
    }
  })
  // Coverage names a dead peer's missing windows; this also says what of it was kept.
  const notes: string[] = []
  for (const a of agents) {
    if (a.live !== false || a.epochs.length === 0) continue
    const ws = i.results.peerWindows(i.runId, a.peer_id)
    notes.push(ws.length === 0
      ? `peer ${a.peer_id} (dead) sent no windows`
      : `peer ${a.peer_id} (dead) windows ${ws[0].index}-${ws[ws.length - 1].index} kept`)
  }
  const bd = i.breakdowns === undefined ? null : meshBreakdown(i.runId, i.breakdowns, agents)
  if (bd !== null && !bd.coverage.complete) notes.push(bd.coverage.text)
  const coverageText = [coverage.text, ...notes].join('; ')
  const slo = sloOf(plan)
  let gate: MeshReport['slo_gate'] = null
  if (slo !== null) {
    const g = checkSloGate(slo, { counters: c, histograms: merged.histograms })
    gate = { pass: g.pass, percentile: g.percentile, reasons: g.reasons }
  }
  return {
    schema: 'loadmesh.mesh-report/v1',
    run_id: i.runId,
    built_by: i.selfId,
    requests: {
      scheduled: c.scheduled,
      sent: c.sent,
      completed: c.completed,
      failed: c.failed,
      dropped: c.dropped,
      error_rate: c.sent > 0 ? c.failed / c.sent : 0,
      errors: { ...c.errors }
    },
    tokens: { input_total: c.input_tokens, output_total: c.output_tokens },
    planned_duration_ms: durationMs,
    latency_ms: latency,
    goodput: goodput(c, durationMs === null ? 0 : durationMs / 1000, slo ?? undefined),
    slo_gate: gate,
    counters: c,
    agents,
    coverage: { text: coverageText, complete: coverage.complete, expected: coverage.expected, present: coverage.present, missing: coverage.missing },
    rebalances: i.timeline.rebalances,
    clock_offsets: i.clockOffsets,
    reconcile: i.reconcile,
    ...(bd === null ? {} : bd.sections)
  }
}

/** The merged breakdown sections and their coverage, or null when no peer has a snapshot. */
function meshBreakdown(
  runId: string,
  store: BreakdownStore,
  agents: readonly MeshReportAgent[]
): { sections: Pick<MeshReport, 'breakdown' | 'production_weighted' | 'breakdown_coverage'>; coverage: BreakdownCoverage } | null {
  const held = store.peers(runId)
  if (held.length === 0) return null
  const ids = new Set<string>([...held, ...agents.map((a) => a.peer_id)])
  const parts: Breakdown[] = []
  const peers: BreakdownPeerCoverage[] = []
  let covered = 0
  let total = 0
  for (const peer of [...ids].sort()) {
    const a = agents.find((x) => x.peer_id === peer)
    const inWindows = a === undefined ? 0 : a.counters.completed + a.counters.failed
    const snap = store.get(runId, peer)
    total += inWindows
    if (snap === undefined) {
      // A peer that finished nothing owes no breakdown (a controller, an idle or refusing agent).
      if (inWindows > 0) peers.push({ peer_id: peer, status: 'missing', finished_in_breakdown: 0, finished_in_windows: inWindows, final: false })
      continue
    }
    parts.push(snap.breakdown)
    covered += snap.finished
    peers.push({
      peer_id: peer,
      status: snap.finished >= inWindows ? 'complete' : 'stale',
      finished_in_breakdown: snap.finished,
      finished_in_windows: inWindows,
      final: snap.final
    })
  }
  const gaps = peers.filter((p) => p.status !== 'complete')
  const text = gaps.length === 0
    ? `breakdown: all ${peers.length} peer(s) in`
    : `breakdown covers ${covered} of ${total} finished requests: ${gaps.map((p) => p.status === 'missing'
      ? `peer ${p.peer_id} missing (${p.finished_in_windows} requests)`
      : `peer ${p.peer_id} stale (${p.finished_in_breakdown} of ${p.finished_in_windows} requests)`).join(', ')}`
  const coverage: BreakdownCoverage = { complete: gaps.length === 0, finished_covered: covered, finished_total: total, peers, text }
  const merged = mergeBreakdowns(parts)
  const sections: Pick<MeshReport, 'breakdown' | 'production_weighted' | 'breakdown_coverage'> = { breakdown_coverage: coverage }
  const b = reportBreakdown(merged)
  if (b !== undefined) sections.breakdown = b
  const pw = productionWeighted(merged)
  if (pw !== undefined) sections.production_weighted = pw
  return { sections, coverage }
}

/**
 * Which windows each peer owes: from the window its first epoch starts in, to the one where the
 * first later epoch without it starts (its share moved to others) or the plan ends, and never past
 * the newest window anyone holds (a stopped run ends early). A dead peer therefore owes the windows
 * between its last publication and the takeover: those are named missing. Without epochs or a
 * plan, the store's defaults apply (live peers up to the newest window, dead ones up to their own).
 */
function expectedWindows(i: BuildMeshReportInput, durationMs: number | null, runUntil: number): { expectedFrom?: Record<string, number>; expectedUntil?: Record<string, number> } {
  const epochs = i.timeline.epochs
  if (epochs.length === 0 || durationMs === null) return {}
  const windowMs = windowLength(i)
  const from: Record<string, number> = {}
  const until: Record<string, number> = {}
  const ids = new Set(epochs.flatMap((e) => e.members.map((m) => m.peer_id)))
  for (const peer of ids) {
    const first = epochs.findIndex((e) => e.members.some((m) => m.peer_id === peer))
    let last = first
    for (let k = first; k < epochs.length; k++) if (epochs[k].members.some((m) => m.peer_id === peer)) last = k
    const endMs = last + 1 < epochs.length ? Math.min(durationMs, epochs[last + 1].start_ms) : durationMs
    from[peer] = Math.floor(Math.max(0, epochs[first].start_ms) / windowMs)
    until[peer] = Math.min(Math.ceil(endMs / windowMs), runUntil)
  }
  return { expectedFrom: from, expectedUntil: until }
}

function windowLength(i: BuildMeshReportInput): number {
  for (const peer of i.results.peers(i.runId)) {
    const w = i.results.peerWindows(i.runId, peer)[0]
    if (w !== undefined && w.duration_ms > 0) return w.duration_ms
  }
  return 1000
}

/** The run's SLO from the plan's config, or null (no plan, no SLO, or a config this peer cannot read). */
function sloOf(plan: RunPlan | null): Slo | null {
  if (plan === null) return null
  let raw: unknown
  try {
    raw = (JSON.parse(plan.config_json) as { slo?: unknown }).slo
  } catch {
    return null
  }
  if (raw === null || typeof raw !== 'object') return null
  // Only the known bounds, and only sane ones: the config came over the wire.
  const slo: Slo = {}
  for (const k of ['ttft_ms', 'tpot_ms', 'e2e_ms', 'itl_ms'] as const) {
    const v = (raw as Record<string, unknown>)[k]
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) slo[k] = v
  }
  return Object.keys(slo).length > 0 ? slo : null
}
