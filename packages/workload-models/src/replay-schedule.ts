import type { ReplayItem, ReplayOptions, WorkloadLog, WorkloadRecord } from './types.ts'
import { WorkloadModelOptionError } from './errors.ts'

function positive (name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new WorkloadModelOptionError(`replay ${name} must be a positive number, got ${String(v)}`)
  return v
}

function nonNegative (name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !(v >= 0) || Number.isNaN(v)) throw new WorkloadModelOptionError(`replay ${name} must be a non-negative number of milliseconds, got ${String(v)}`)
  return v
}

/**
 * Due times (ms from replay start) for the records, in order; infinite when loop (bound it with
 * maxDurationMs or by stopping the iteration).
 *
 * Steps, in this order: keep the window [fromMs, toMs) of the log and shift it to start at 0;
 * apply rateScale (s < 1 keeps record j of the pass-through-the-log sequence floor((j+1)s) −
 * floor(js) times, i.e. an evenly spread subset; s > 1 emits a record that many times, the copies
 * evenly spread between it and the next record, so the rate over any stretch of the log is scaled
 * by s and the timeline keeps its length); when looping, pass i is shifted by i × period, where
 * period is toMs − fromMs when toMs is given, else the window's span plus its mean gap (so the gap
 * across the wrap is a typical one); finally divide by speedup. So a record at log time t is due at
 * exactly (t − fromMs + i × period) / speedup.
 */
export function replaySchedule (log: WorkloadLog, opts: ReplayOptions = {}): Iterable<ReplayItem> {
  const speedup = positive('speedup', opts.speedup, 1)
  const rateScale = positive('rateScale', opts.rateScale, 1)
  const fromMs = nonNegative('fromMs', opts.fromMs) ?? 0
  const toMs = nonNegative('toMs', opts.toMs)
  const maxDurationMs = nonNegative('maxDurationMs', opts.maxDurationMs)
  if (toMs !== undefined && toMs <= fromMs) throw new WorkloadModelOptionError(`replay window is empty: toMs (${toMs}) must be greater than fromMs (${fromMs})`)
  const window: WorkloadRecord[] = log.records.filter((r) => r.atMs >= fromMs && (toMs === undefined || r.atMs < toMs))
  if (window.length === 0) {
    const last = log.records.length > 0 ? log.records[log.records.length - 1].atMs : 0
    throw new WorkloadModelOptionError(`replay window [${fromMs}, ${toMs ?? 'end'}) ms of ${log.source} holds no records (the log spans 0..${last.toFixed(0)} ms)`)
  }
  const loop = opts.loop === true
  const span = window[window.length - 1].atMs - fromMs
  let period: number
  if (toMs !== undefined) period = toMs - fromMs
  else if (window.length >= 2) period = span + (window[window.length - 1].atMs - window[0].atMs) / (window.length - 1)
  else period = Number.NaN
  if (loop && !(period > 0)) {
    throw new WorkloadModelOptionError(`cannot loop ${log.source}: its window has a single record and no length; give toMs`)
  }
  const n = window.length
  return {
    * [Symbol.iterator] (): Iterator<ReplayItem> {
      for (let iteration = 0; ; iteration++) {
        const base = iteration * period
        for (let i = 0; i < n; i++) {
          const j = iteration * n + i
          const copies = Math.floor((j + 1) * rateScale) - Math.floor(j * rateScale)
          if (copies === 0) continue
          const record = window[i]
          const t = record.atMs - fromMs
          // The next record's time in this pass; after the last, the start of the next pass.
          const next = i + 1 < n ? window[i + 1].atMs - fromMs : (Number.isFinite(period) ? period : t)
          for (let copy = 0; copy < copies; copy++) {
            const rel = copy === 0 ? t : t + (copy / copies) * (next - t)
            const atMs = (rel + base) / speedup
            if (maxDurationMs !== undefined && atMs >= maxDurationMs) return
            yield { atMs, record, iteration, copy }
          }
        }
        if (!loop) return
      }
    }
  }
}
