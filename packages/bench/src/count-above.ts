import type { Histogram } from '@loadmesh/metrics'

/**
 * Values above `ms` in one of the report's histograms (microseconds, 3 significant digits), from
 * its buckets. A bucket counts only when its whole range is above the limit, so a count is never
 * overstated: "n requests were sent more than 2 ms late" is then a lower bound, never a guess.
 */
export function countAboveMs(h: Histogram, ms: number): number {
  const limit = ms * 1000
  let n = 0
  const it = h.recordedValuesIterator
  it.reset()
  while (it.hasNext()) {
    const v = it.next()
    if (h.lowestEquivalentValue(v.valueIteratedTo) > limit) n += v.countAtValueIteratedTo
  }
  return n
}
