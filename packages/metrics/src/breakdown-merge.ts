import { bump } from './counters.ts'
import { createHistogram, mergeInto } from './histogram.ts'
import type { Histogram } from './histogram.ts'
import { BREAKDOWN_DIMENSIONS, BREAKDOWN_METRICS, DEFAULT_MAX_LABEL_VALUES, OTHER_LABEL } from './breakdown.ts'
import type { Breakdown, BreakdownDimension, BreakdownMetric, LabelStats, WeightedView } from './breakdown.ts'

export interface MergeBreakdownOptions {
  /**
   * Distinct values kept per dimension in the result (default 32, as one recorder keeps). Peers
   * may each have seen different values; past the bound the values with the fewest finished
   * requests (ties by name) are folded into '(other)' and counted in `overflow`, so the result
   * does not depend on the order of the inputs.
   */
  maxValues?: number
}

/**
 * Merges breakdowns of disjoint sets of requests (one per peer, say) into the breakdown of their
 * union: counters and weights are summed, histograms merged bucket-wise, nothing is averaged. The
 * inputs are not modified; the result owns fresh 64-bit histograms. With no input that has a
 * weighted view, the result has none.
 */
export function mergeBreakdowns(parts: readonly Breakdown[], o: MergeBreakdownOptions = {}): Breakdown {
  const maxValues = o.maxValues ?? DEFAULT_MAX_LABEL_VALUES
  if (!Number.isInteger(maxValues) || maxValues < 1) throw new RangeError(`mergeBreakdowns: maxValues must be an integer ≥ 1, got ${o.maxValues}`)
  const dimensions: Breakdown['dimensions'] = {}
  const overflow: Breakdown['overflow'] = {}
  let weighted: WeightedView | null = null
  for (const dim of BREAKDOWN_DIMENSIONS) {
    let values: Map<string, LabelStats> | null = null
    for (const p of parts) {
      const src = p.dimensions[dim]
      if (src === undefined) continue
      values ??= new Map()
      for (const [value, s] of Object.entries(src)) {
        let into = values.get(value)
        if (into === undefined) values.set(value, (into = emptyStats()))
        addStats(into, s)
      }
    }
    for (const p of parts) {
      const n = p.overflow[dim]
      if (n !== undefined && n > 0) overflow[dim] = (overflow[dim] ?? 0) + n
    }
    if (values === null) continue
    dimensions[dim] = capValues(dim, values, maxValues, overflow)
  }
  for (const p of parts) {
    if (p.weighted === null) continue
    weighted ??= { weight: 0, completed_weight: 0, failed_weight: 0, errors: {}, histograms: {} }
    weighted.weight += p.weighted.weight
    weighted.completed_weight += p.weighted.completed_weight
    weighted.failed_weight += p.weighted.failed_weight
    for (const [k, v] of Object.entries(p.weighted.errors)) bump(weighted.errors, k, v)
    mergeHistograms(weighted.histograms, p.weighted.histograms)
  }
  return { dimensions, overflow, weighted }
}

/** Finished requests of a label value: what ranks values when a dimension is over its bound. */
export function finishedOf(s: LabelStats): number {
  return s.completed + s.failed
}

function capValues(
  dim: BreakdownDimension,
  values: Map<string, LabelStats>,
  maxValues: number,
  overflow: Breakdown['overflow']
): Record<string, LabelStats> {
  const out: Record<string, LabelStats> = {}
  const named = [...values.keys()].filter((v) => v !== OTHER_LABEL)
  const other = values.get(OTHER_LABEL)
  if (named.length <= maxValues) {
    for (const v of named.sort()) out[v] = values.get(v) as LabelStats
    if (other !== undefined) out[OTHER_LABEL] = other
    return out
  }
  named.sort((a, b) => finishedOf(values.get(b) as LabelStats) - finishedOf(values.get(a) as LabelStats) || (a < b ? -1 : a > b ? 1 : 0))
  const folded = other ?? emptyStats()
  for (const v of named.slice(maxValues)) {
    const s = values.get(v) as LabelStats
    addStats(folded, s)
    overflow[dim] = (overflow[dim] ?? 0) + finishedOf(s)
  }
  for (const v of named.slice(0, maxValues).sort()) out[v] = values.get(v) as LabelStats
  out[OTHER_LABEL] = folded
  return out
}

function emptyStats(): LabelStats {
  return { completed: 0, failed: 0, errors: {}, input_tokens: 0, output_tokens: 0, weight: 0, histograms: {} }
}

function addStats(into: LabelStats, s: LabelStats): void {
  into.completed += s.completed
  into.failed += s.failed
  into.input_tokens += s.input_tokens
  into.output_tokens += s.output_tokens
  into.weight += s.weight
  for (const [k, v] of Object.entries(s.errors)) bump(into.errors, k, v)
  mergeHistograms(into.histograms, s.histograms)
}

function mergeHistograms(into: Partial<Record<BreakdownMetric, Histogram>>, from: Partial<Record<BreakdownMetric, Histogram>>): void {
  for (const m of BREAKDOWN_METRICS) {
    const h = from[m]
    // 64-bit targets: a merged label may exceed what one peer's 32-bit buckets hold.
    if (h !== undefined) mergeInto((into[m] ??= createHistogram()), h)
  }
}
