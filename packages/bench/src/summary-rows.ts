import { fmtFixed, fmtInt, fmtPct } from './format.ts'
import { takenShare } from './results.ts'
import type { ClientMeasurement, LagRow } from './results.ts'

/** Rows shared by the terminal table and the doc, so both always show the same numbers. */

function pct1(v: number | null): string {
  return v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`
}

export function clientHeader(unit: string): string[] {
  return ['client', `${unit}/s`, `${unit} per CPU-second`, 'client CPU', 'completed', 'failed', 'other work core 0 / 1', `${unit}/s by round`]
}

export function clientRow(c: ClientMeasurement): string[] {
  if (c.status !== 'ok') return [c.name, c.status, '', '', '', '', '', '']
  return [
    c.name, fmtInt(c.value), fmtInt(c.per_cpu_s), fmtPct(c.cpu_util), fmtInt(c.completed), fmtInt(c.failed),
    `${pct1(takenShare(c.core_usage, 0))} / ${pct1(takenShare(c.core_usage, 1))}`,
    c.rounds.map(fmtInt).join(' / ')
  ]
}

export const LAG_HEADER = ['rate (req/s)', 'achieved', 'lag p50 ms', 'lag p99 ms', 'lag p99.9 ms', 'lag max ms', 'dropped', 'failed', 'loop delay p99 ms', 'other work core 0', 'probe lost']

export function lagRow(r: LagRow): string[] {
  const rate = r.client === 'host' ? `${fmtInt(r.rate)}, client unpinned` : fmtInt(r.rate)
  if (r.status !== 'ok') return [rate, r.status, '', '', '', '', '', '', '', '', '']
  const l = r.schedule_lag_ms
  return [
    rate, fmtInt(r.achieved_rate), fmtFixed(l.p50, 3), fmtFixed(l.p99, 3), fmtFixed(l.p999, 3), fmtFixed(l.max, 3),
    fmtInt(r.dropped), fmtInt(r.failed), fmtFixed(r.event_loop_delay_ms.p99, 2),
    pct1(takenShare(r.core_usage, 0)), r.cpu_probe === null ? 'n/a' : pct1(r.cpu_probe.lost_fraction)
  ]
}

/** Notes of clients and rows that were skipped, failed or flagged something. */
export function notesOf(items: Array<{ name?: string; rate?: number; note: string | null }>): string[] {
  return items.filter((i) => i.note !== null).map((i) => `${i.name ?? `${fmtInt(i.rate)} req/s`}: ${i.note}`)
}
