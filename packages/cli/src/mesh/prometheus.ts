import type { MeshAgent } from '@loadmesh/agent'
import type { MeshNode } from '@loadmesh/mesh'

/** The agent's counters and its view of the membership in Prometheus text format (0.0.4). */
export function prometheusText (agent: MeshAgent, node: MeshNode): string {
  const out: string[] = []
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Record<string, string>, number]>): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${x.replace(/["\\\n]/g, '_')}"`).join(',')
      out.push(`${name}${l !== '' ? `{${l}}` : ''} ${value}`)
    }
  }
  const members = agent.membership().members().filter((m) => !m.self)
  metric('loadmesh_peers', 'gauge', 'Peers by membership state (this peer excluded).',
    (['alive', 'suspect', 'dead'] as const).map((s) => [{ state: s }, members.filter((m) => m.state === s).length]))
  const run = agent.currentRun()?.status()
  metric('loadmesh_requests_sent_total', 'counter', 'Requests sent in the current (or last) run.', [[{}, run?.sent ?? 0]])
  metric('loadmesh_requests_completed_total', 'counter', 'Requests completed in the current (or last) run.', [[{}, run?.completed ?? 0]])
  metric('loadmesh_requests_failed_total', 'counter', 'Requests failed in the current (or last) run.', [[{}, run?.failed ?? 0]])
  metric('loadmesh_requests_dropped_total', 'counter', 'Arrivals dropped (in-flight cap or --max-rate) in the current (or last) run.', [[{}, run?.dropped ?? 0]])
  metric('loadmesh_requests_in_flight', 'gauge', 'Requests in flight now.', [[{}, run?.in_flight ?? 0]])
  const current = agent.currentRun()
  if (current !== null && run?.first_sent_at != null) {
    // Start skew as this agent sees it: subtract its clock offset from a reference peer's to compare agents.
    metric('loadmesh_run_first_send_after_t0_ms', 'gauge', 'When the run\'s first request left, ms after the plan\'s T0 on this agent\'s clock.',
      [[{ run_id: current.runId }, run.first_sent_at - current.t0]])
  }
  const st = agent.stats()
  metric('loadmesh_rejected_messages_total', 'counter', 'Inbound messages dropped and plans refused, by reason.',
    Object.entries(st.rejected).map(([reason, n]) => [{ reason }, n]))
  const ns = node.stats()
  metric('loadmesh_gossip_bytes_in_total', 'counter', 'Gossip payload bytes received.', [[{}, ns.gossipBytesIn]])
  metric('loadmesh_gossip_bytes_out_total', 'counter', 'Gossip payload bytes published.', [[{}, ns.gossipBytesOut]])
  metric('loadmesh_connected_peers', 'gauge', 'Open peer connections.', [[{}, ns.connectedPeers]])
  metric('loadmesh_gossip_messages_in_total', 'counter', 'Gossip messages delivered (after deduplication).', [[{}, ns.messagesIn]])
  metric('loadmesh_gossip_messages_out_total', 'counter', 'Gossip messages published.', [[{}, ns.messagesOut]])
  metric('loadmesh_gossip_published_direct_total', 'counter', 'Gossip messages published straight to every known peer (not relayed by receivers).', [[{}, ns.publishedDirect]])
  metric('loadmesh_gossip_stream_repairs_total', 'counter', 'Gossip streams to connected peers reopened after they were lost.', [[{}, ns.gossipStreamRepairs]])
  metric('loadmesh_gossip_relayed_total', 'counter', 'Inbound gossip messages handed to gossipsub to relay (all but the heartbeats their publishers sent straight to every peer).', [[{}, ns.relayed]])
  metric('loadmesh_heartbeats_in_total', 'counter', 'Heartbeats received.', [[{}, st.heartbeatsIn]])
  metric('loadmesh_results_in_total', 'counter', 'Result deltas received.', [[{}, st.resultsIn]])
  metric('loadmesh_publish_failures_total', 'counter', 'Gossip publishes that failed.', [[{}, st.publishFailures]])
  return out.join('\n') + '\n'
}
