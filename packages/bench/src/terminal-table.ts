import { describeProbe, fmtGoal, fmtRatio, textTable } from './format.ts'
import type { BenchResults } from './results.ts'
import { clientHeader, clientRow, LAG_HEADER, lagRow, notesOf } from './summary-rows.ts'
import { simulatorScaleText } from './suites/simulator-scale.ts'
import { meshText } from './suites/mesh.ts'
import { replayLagText } from './suites/replay-lag.ts'

/** The readable summary printed at the end of a run. */
export function renderTerminalSummary(r: BenchResults): string {
  const out: string[] = []
  const m = r.machine
  out.push(`loadmesh bench (${r.kind}) ${m.date}  ${m.cpu_model}, ${m.cores} cores, node ${m.node_version}`)
  out.push(`load average before ${m.load_avg_before.join(' ')}, after ${m.load_avg_after.join(' ')}`)
  for (const s of r.suites) {
    out.push('', `== ${s.title} [${s.status}]${s.note === null ? '' : ` (${s.note})`}`)
    if (s.cpu_probe.core0 !== null || s.cpu_probe.core1 !== null) {
      out.push(`probe before the suite: other work took ${describeProbe(s.cpu_probe.core0)} of core 0, ${describeProbe(s.cpu_probe.core1)} of core 1`)
    }
    if (s.id === 'req-per-s' || s.id === 'sse') {
      if (s.clients.length > 0) out.push(textTable(clientHeader(s.id === 'sse' ? 'chunks' : 'req'), s.clients.map(clientRow)))
      if (s.id === 'req-per-s') {
        out.push(`loadmesh / autocannon ${fmtRatio(s.ratios.loadmesh_over_autocannon)}   loadmesh / wrk ${fmtRatio(s.ratios.loadmesh_over_wrk)}`)
      } else {
        out.push(`loadmesh / raw reader ${fmtRatio(s.ratios.loadmesh_over_raw)} (chunks/s), ${fmtRatio(s.ratios.loadmesh_over_raw_per_cpu_s)} (per CPU-second)`)
      }
      for (const n of notesOf(s.clients)) out.push(`  note: ${n}`)
    } else if (s.id === 'sim-engine') {
      if (s.clients.length > 0) out.push(textTable(clientHeader('units'), s.clients.map(clientRow)))
      out.push('units: virtual time = virtual seconds (units/s is the speed-up); engine = tokens')
      for (const n of notesOf(s.clients)) out.push(`  note: ${n}`)
    } else if (s.id === 'mesh') {
      out.push(...meshText(s))
    } else if (s.id === 'simulator-scale') {
      out.push(...simulatorScaleText(s))
    } else if (s.id === 'replay-lag') {
      out.push(...replayLagText(s))
    } else {
      if (s.rates.length > 0) out.push(textTable(LAG_HEADER, s.rates.map(lagRow)))
      for (const n of notesOf(s.rates)) out.push(`  note: ${n}`)
    }
    for (const g of s.goals) out.push(`goal: ${g.description}: ${fmtGoal(g.met)}`)
  }
  for (const w of r.warnings) out.push(`warning: ${w}`)
  return out.join('\n')
}
