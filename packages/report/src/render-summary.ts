import { formatDuration } from '@loadmesh/clock'
import type { Summary } from '@loadmesh/metrics'
import { LATENCY_METRICS } from './report.ts'
import type { BreakdownEntry, ProductionWeighted, Report, ReportBreakdown } from './report.ts'

/** The end-of-run table for people. Everything in it is also in the JSON report. */
export function renderSummary (r: Report): string {
  const q = r.requests
  const t = r.throughput
  const out: string[] = []
  out.push(`loadmesh run ${r.run_id}${r.interrupted ? ' (interrupted)' : ''}: ${r.duration_s.toFixed(2)} s`)
  out.push(`  requests   scheduled ${q.scheduled}  sent ${q.sent}  completed ${q.completed}  failed ${q.failed}  dropped ${q.dropped}  error rate ${(q.error_rate * 100).toFixed(2)}%`)
  const errs = Object.entries(q.errors).sort((a, b) => b[1] - a[1])
  if (errs.length > 0) out.push(`  errors     ${errs.map(([k, n]) => `${k} ${n}`).join('  ')}`)
  out.push(`  rate       ${t.target_rate !== null ? `target ${t.target_rate} req/s  ` : ''}achieved ${t.achieved_rate.toFixed(2)} req/s  completed ${t.requests_per_s.toFixed(2)} req/s`)
  out.push(`  tokens/s   input ${t.input_tokens_per_s.toFixed(0)}  output ${t.output_tokens_per_s.toFixed(0)}  (output per request p50 ${fmtN(r.tokens.output_per_request.p50)}, tokens per chunk ${r.tokens.tokens_per_chunk ?? '-'})`)
  if (r.goodput.slo !== null) {
    const ratio = r.goodput.ratio === null ? '-' : `${(r.goodput.ratio * 100).toFixed(1)}%`
    out.push(`  goodput    ${r.goodput.met}/${r.goodput.total} met the SLO (${ratio}), ${(r.goodput.requests_per_s ?? 0).toFixed(2)} req/s`)
  }
  const el = r.injector.event_loop_delay_ms
  out.push(`  injector   event-loop delay p99 ${formatDuration(el.p99)} max ${formatDuration(el.max)}  cpu ${(r.injector.cpu.utilisation * 100).toFixed(0)}%`)
  out.push('')
  const header = ['metric (ms)', 'count', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max']
  const rows: string[][] = LATENCY_METRICS.map((m) => row(m, r.latency_ms[m]))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  out.push('  ' + line(header))
  for (const x of rows) out.push('  ' + line(x))
  out.push(...renderBreakdown(r.breakdown, r.production_weighted, q.completed + q.failed))
  if (r.slo_gate !== null) {
    out.push('')
    out.push(`  SLO gate (${r.slo_gate.percentile}): ${r.slo_gate.pass ? 'pass' : 'FAIL'}`)
    for (const reason of r.slo_gate.reasons) out.push(`    ${reason}`)
  }
  if (r.warnings.length > 0) {
    out.push('')
    for (const w of r.warnings) out.push(`  warning: ${w}`)
  }
  return out.join('\n')
}

/**
 * The breakdown tables and the production-weighted lines (each block preceded by a blank line),
 * shared by the single-agent summary and the mesh summary; `finished` is the total of finished
 * requests the weighted view is set against.
 */
export function renderBreakdown (b: ReportBreakdown | undefined, pw: ProductionWeighted | undefined, finished: number): string[] {
  const out: string[] = []
  for (const dim of ['endpoint', 'class', 'adversarial'] as const) {
    const section = b?.[dim]
    if (section === undefined) continue
    out.push('')
    out.push(...breakdownTable(`by ${dim}`, section))
  }
  if (pw !== undefined) {
    const l = pw.latency_ms
    out.push('')
    out.push(`  production-weighted (long tail, weight ${pw.weight.toFixed(1)} over ${finished} requests)`)
    out.push(`    ttft p50 ${fmt(l.ttft.p50)} p99 ${fmt(l.ttft.p99)}  tpot p50 ${fmt(l.tpot.p50)} p99 ${fmt(l.tpot.p99)}  e2e p50 ${fmt(l.e2e.p50)} p99 ${fmt(l.e2e.p99)} ms  error rate ${(pw.error_rate * 100).toFixed(2)}%`)
    out.push(`    input tokens p50 ${fmtN(pw.tokens.input_per_request.p50)} p99 ${fmtN(pw.tokens.input_per_request.p99)}  output tokens p50 ${fmtN(pw.tokens.output_per_request.p50)} p99 ${fmtN(pw.tokens.output_per_request.p99)}`)
  }
  return out
}

function row (name: string, s: Summary): string[] {
  return [name, String(s.count), fmt(s.mean), fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.p999), fmt(s.max)]
}

function fmt (v: number | null): string {
  if (v === null) return '-'
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

function fmtN (v: number | null): string {
  return v === null ? '-' : String(Math.round(v))
}

/** One line per label value: counts, then p50/p99 of the latencies that tell kinds of request apart. */
function breakdownTable (title: string, section: Record<string, BreakdownEntry>): string[] {
  const header = [title, 'done', 'failed', 'ttft p50', 'ttft p99', 'tpot p50', 'e2e p50', 'e2e p99', 'in p50', 'out p50']
  const rows = Object.entries(section).map(([k, e]) => [
    k.length > 40 ? k.slice(0, 39) + '…' : k,
    String(e.requests.completed),
    String(e.requests.failed),
    fmt(e.latency_ms.ttft.p50),
    fmt(e.latency_ms.ttft.p99),
    fmt(e.latency_ms.tpot.p50),
    fmt(e.latency_ms.e2e.p50),
    fmt(e.latency_ms.e2e.p99),
    fmtN(e.tokens.input_per_request.p50),
    fmtN(e.tokens.output_per_request.p50)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return ['  ' + line(header), ...rows.map((x) => '  ' + line(x))]
}
