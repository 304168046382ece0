/**
 * How much of a core a busy process actually gets: spin on the clock and collect every gap
 * between two consecutive readings longer than `thresholdMs`. On an idle core the gaps are a
 * few µs; gaps of milliseconds are time the OS or hypervisor gave to someone else. No client can
 * send on time inside such a gap, so they bound schedule lag from below on that machine.
 */
import type { CpuProbe } from './results.ts'

/** `lost_fraction`: share of the probe's wall time spent in gaps (0..1). */
export type CpuProbeResult = CpuProbe

export function probeCpu(durationMs: number, thresholdMs = 0.5, now: () => number = () => performance.now()): CpuProbeResult {
  const start = now()
  const end = start + durationMs
  let last = start
  let lost = 0
  let over1 = 0
  let max = 0
  for (;;) {
    const t = now()
    const gap = t - last
    if (gap > thresholdMs) {
      lost += gap
      if (gap > 1) over1++
      if (gap > max) max = gap
    }
    last = t
    if (t >= end) break
  }
  const wall = last - start
  return {
    duration_s: wall / 1000,
    lost_fraction: wall > 0 ? lost / wall : 0,
    gaps_over_1ms_per_s: wall > 0 ? over1 / (wall / 1000) : 0,
    max_gap_ms: max
  }
}
