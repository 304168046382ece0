import { summarize, metricScale, addCounters, emptyCounters } from '@loadmesh/metrics'
import type { Counters, Summary } from '@loadmesh/metrics'
import { LATENCY_METRICS } from '@loadmesh/report'
import type { LatencyMetric } from '@loadmesh/report'
import { computeShares } from '@loadmesh/mesh-state'
import type { Coverage, EpochTimeline, PeerClockOffset, Rebalance, ResultsStore } from '@loadmesh/mesh-state'

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
  latency_ms: Record<LatencyMetric, Summary>
  /** Merged counters, as summed over every (peer, window). */
  counters: Counters
  agents: MeshReportAgent[]
  coverage: { text: string; complete: boolean; expected: number; present: number; missing: number }
  rebalances: Rebalance[]
  clock_offsets: PeerClockOffset[]
  /** Peers that answered the reconcile request, and those that did not (with why). */
  reconcile: { answered: string[]; failed: Array<{ peer_id: string; error: string }> }
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
}

export function buildMeshReport(i: BuildMeshReportInput): MeshReport {
  const merged = i.results.merged(i.runId)
  const c = merged.counters
  const latency = {} as Record<LatencyMetric, Summary>
  for (const m of LATENCY_METRICS) latency[m] = summarize(merged.histograms[m], { scale: metricScale(m) })
  const members = new Set<string>()
  for (const e of i.timeline.epochs) for (const m of e.members) members.add(m.peer_id)
  const coverage: Coverage = i.results.coverage(i.runId, { peers: [...members], livePeers: i.livePeers })
  const peers = new Set<string>([...members, ...i.results.peers(i.runId)])
  const agents: MeshReportAgent[] = [...peers].sort().map((peer) => {
    const windows = i.results.peerWindows(i.runId, peer)
    const counters = emptyCounters()
    for (const w of windows) addCounters(counters, w.counters)
    let share: number | null = null
    const epochs: number[] = []
    for (const e of i.timeline.epochs) {
      const s = computeShares(e.members).find((x) => x.peer_id === peer)
      if (s !== undefined) { share = s.share; epochs.push(e.epoch) }
    }
    const pc = coverage.peers.find((p) => p.peer_id === peer)
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
  // Coverage counts a dead peer's windows only up to its last one, so its death would not show;
  // the report says it, with the windows that were kept.
  const notes: string[] = []
  for (const a of agents) {
    if (a.live !== false || a.epochs.length === 0) continue
    const ws = i.results.peerWindows(i.runId, a.peer_id)
    notes.push(ws.length === 0
      ? `peer ${a.peer_id} (dead) sent no windows`
      : `peer ${a.peer_id} (dead) windows ${ws[0].index}-${ws[ws.length - 1].index} kept`)
  }
  const coverageText = [coverage.text, ...notes].join('; ')
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
    latency_ms: latency,
    counters: c,
    agents,
    coverage: { text: coverageText, complete: coverage.complete, expected: coverage.expected, present: coverage.present, missing: coverage.missing },
    rebalances: i.timeline.rebalances,
    clock_offsets: i.clockOffsets,
    reconcile: i.reconcile
  }
}
