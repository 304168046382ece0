import type { MeshReport, MemberStatus } from '@loadmesh/agent'
import { renderBreakdown } from '@loadmesh/report'

const ms = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v)) ? '-' : v.toFixed(1)

/** The text summary of a mesh report: totals, latency, one line per agent, coverage. */
export function renderMeshSummary (r: MeshReport): string {
  const q = r.requests
  const lines = [
    `run ${r.run_id} (built by ${r.built_by})`,
    `requests: scheduled ${q.scheduled}  sent ${q.sent}  completed ${q.completed}  failed ${q.failed}  dropped ${q.dropped}  error rate ${(q.error_rate * 100).toFixed(2)}%`,
    'metric (ms)        count      p50      p90      p99      max'
  ]
  for (const [name, s] of Object.entries(r.latency_ms)) {
    const x = s as unknown as { count: number; p50?: number; p90?: number; p99?: number; max?: number }
    lines.push(`${name.padEnd(16)} ${String(x.count).padStart(7)} ${ms(x.p50).padStart(8)} ${ms(x.p90).padStart(8)} ${ms(x.p99).padStart(8)} ${ms(x.max).padStart(8)}`)
  }
  lines.push('agents:')
  for (const a of r.agents) {
    lines.push(`  ${a.peer_id}  share ${a.share === null ? '-' : `${(a.share * 100).toFixed(1)}%`}  sent ${a.counters.sent}  completed ${a.counters.completed}  failed ${a.counters.failed}  ${a.coverage_text ?? ''}${a.live === false ? '  (dead)' : ''}`)
  }
  if (r.slo_gate !== null) {
    const g = r.goodput
    lines.push(`goodput: ${g.met} of ${g.total} requests met the SLO${g.ratio === null ? '' : ` (${(g.ratio * 100).toFixed(2)}%)`}; gate ${r.slo_gate.percentile}: ${r.slo_gate.pass ? 'pass' : `FAIL: ${r.slo_gate.reasons.join('; ')}`}`)
  }
  // The same per-endpoint / class / adversarial tables a single-agent run prints, from the merged breakdown.
  lines.push(...renderBreakdown(r.breakdown, r.production_weighted, q.completed + q.failed))
  if (r.rebalances.length > 1) lines.push(`rebalances: ${r.rebalances.slice(1).map((b) => `epoch ${b.epoch} at ${(b.start_ms / 1000).toFixed(2)}s (${b.reason})`).join('; ')}`)
  lines.push(`coverage: ${r.coverage.text}`)
  if (r.reconcile.failed.length > 0) lines.push(`reconcile failed for: ${r.reconcile.failed.map((f) => `${f.peer_id} (${f.error})`).join(', ')}`)
  return lines.join('\n')
}

/** One line per member plus a total: what `status` prints and the live panel shows. */
export function renderMembers (members: MemberStatus[]): string[] {
  // A note gets its own line: the live panel redraws by counting lines.
  const lines = members.flatMap((m) => [
    `  ${m.peer_id}  ${m.role.padEnd(10)} ${m.state.padEnd(7)} ${m.run_id !== '' ? `run ${m.run_id.slice(0, 8)}` : 'idle        '}  ${m.achieved_rate.toFixed(1)} req/s  in flight ${m.in_flight}  sent ${m.sent}  completed ${m.completed}  errors ${m.failed}  loop p99 ${m.loop_delay_p99_ms.toFixed(1)} ms${m.degraded ? '  DEGRADED' : ''}${m.self ? '  (this peer)' : ''}`,
    ...(m.note !== null ? [`      ${m.note}`] : [])
  ])
  const agents = members.filter((m) => m.role === 'agent' && m.state !== 'dead')
  const sum = (k: 'achieved_rate' | 'in_flight' | 'sent' | 'completed' | 'failed'): number => agents.reduce((s, m) => s + m[k], 0)
  lines.push(`  total: ${agents.length} live agent(s)  ${sum('achieved_rate').toFixed(1)} req/s  in flight ${sum('in_flight')}  sent ${sum('sent')}  completed ${sum('completed')}  errors ${sum('failed')}`)
  return lines
}
