// The CPU availability probe as a pinned process (see cpu-probe.ts).
import { probeCpu } from '../cpu-probe.ts'
import { workerMain } from '../worker-protocol.ts'

export interface CpuProbeConfig {
  deadlineMs: number
  durationMs: number
}

workerMain<CpuProbeConfig>(async (c) => probeCpu(c.durationMs))
