import type { CpuProbe } from './results.ts'

/** Number formatting shared by the terminal table and the doc. Missing values print as "n/a". */

export function fmtInt(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? 'n/a' : Math.round(v).toLocaleString('en-US')
}

export function fmtFixed(v: number | null | undefined, digits: number): string {
  return v == null || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits)
}

export function fmtPct(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? 'n/a' : `${Math.round(v * 100)}%`
}

export function fmtRatio(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}×`
}

export function fmtGoal(met: boolean | null): string {
  return met === null ? 'not measured' : met ? 'met' : 'NOT met'
}

/** Plain-text columns, left-aligned first column, the rest right-aligned. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** A GitHub-flavoured Markdown table; numeric columns right-aligned. */
export function mdTable(header: string[], rows: string[][], rightFrom = 1): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|')
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i >= rightFrom ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)
  ].join('\n')
}

export function describeProbe(p: CpuProbe | null): string {
  return p === null ? 'n/a' : `${(p.lost_fraction * 100).toFixed(1)}% (longest gap ${p.max_gap_ms.toFixed(1)} ms)`
}
