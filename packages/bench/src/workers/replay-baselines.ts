// The replay-lag suite's baselines: the measured replay's due times (same log, speedup and window)
// met by a spin and then by sleeps on the client's core, sending nothing (schedule-baseline.ts).
import { readWorkloadLog, replaySchedule } from '@loadmesh/workload-models'
import { futexSleep, meetSchedule } from '../schedule-baseline.ts'
import type { BaselineResult } from '../schedule-baseline.ts'
import { workerMain } from '../worker-protocol.ts'

export interface ReplayBaselinesConfig {
  deadlineMs: number
  log: string
  speedup: number
  /** [fromMs, toMs) of the log, or null for the whole log. */
  windowMs: [number, number] | null
}

export interface ReplayBaselines {
  spin: BaselineResult
  sleep: BaselineResult
}

workerMain<ReplayBaselinesConfig>(async (c): Promise<ReplayBaselines> => {
  const log = await readWorkloadLog(c.log)
  const due: number[] = []
  const window = c.windowMs === null ? {} : { fromMs: c.windowMs[0], toMs: c.windowMs[1] }
  for (const item of replaySchedule(log, { speedup: c.speedup, ...window })) due.push(item.atMs)
  // The parsed log is garbage once the due times are out: collect it before the clock starts, as
  // the client settles its heap before its first due time.
  globalThis.gc?.()
  const spin = meetSchedule(due, performance.now() + 50)
  const sleep = meetSchedule(due, performance.now() + 50, { sleep: futexSleep() })
  return { spin, sleep }
})
