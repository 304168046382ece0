import { cpus, loadavg, release, platform } from 'node:os'
import type { MachineInfo } from './results.ts'

export function cpuModel(): string {
  const list = cpus()
  return list.length === 0 ? 'unknown' : list[0].model.trim()
}

export function loadAverage(): number[] {
  return loadavg().map((v) => Math.round(v * 100) / 100)
}

/** The machine part of the results; `load_avg_after` is filled in at the end of the run. */
export function machineInfo(o: { taskset: boolean; pinNote: string | null; tools: MachineInfo['tools'] }): MachineInfo {
  return {
    cpu_model: cpuModel(),
    cores: cpus().length,
    node_version: process.version,
    platform: `${platform()} ${process.arch}`,
    kernel: release(),
    load_avg_before: loadAverage(),
    load_avg_after: loadAverage(),
    date: new Date().toISOString(),
    pinning: { taskset: o.taskset, client_core: 0, target_core: 1, note: o.pinNote },
    tools: o.tools
  }
}
