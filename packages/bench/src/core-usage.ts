import { readFileSync } from 'node:fs'

/**
 * What else ran on the two cores while a client was being measured, from the kernel's own
 * accounting: /proc/stat per-CPU ticks for the core, minus the CPU time of the processes we put
 * there (the client on core 0, the target on core 1). Unlike a probe before the suite, this covers
 * exactly the measured phase. Resolution is one clock tick (10 ms) per core.
 */
export interface CoreUsage {
  /** Share of the phase each core spent on work other than ours (0..1), null when unknown. */
  other_core0: number | null
  other_core1: number | null
  /** Share of the phase the hypervisor took from each core (steal), null when unknown. */
  steal_core0: number | null
  steal_core1: number | null
}

export interface CpuTicks {
  busy: number
  steal: number
  total: number
}

/** Per-CPU tick counters from /proc/stat's "cpuN" lines (empty where /proc is missing). */
export function parseProcStat(text: string): CpuTicks[] {
  const out: CpuTicks[] = []
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line)
    if (m === null) continue
    const f = m[2].trim().split(/\s+/).map(Number)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => f[i] ?? 0)
    out[Number(m[1])] = { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal }
  }
  return out
}

/** utime + stime of a process in ticks, from /proc/<pid>/stat (the command may contain spaces). */
export function parseProcPidStat(text: string): number | null {
  const close = text.lastIndexOf(')')
  if (close < 0) return null
  const f = text.slice(close + 2).trim().split(/\s+/)
  // Fields after the command start at field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(f[11])
  const stime = Number(f[12])
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : null
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

const TICK_MS = 10 // USER_HZ is 100 on every Linux that matters

export interface CoreUsageMeter {
  /** Ends the window. `clientCpuMs`: the client's own CPU time over it (it runs on core 0). */
  stop(clientCpuMs: number | null): CoreUsage
}

/** Starts a window; `targetPid` is the process on core 1 (null if unknown). */
export function startCoreUsage(targetPid: number | null, readFile: (p: string) => string | null = read): CoreUsageMeter {
  const cpus0 = parseProcStat(readFile('/proc/stat') ?? '')
  const target0 = targetPid === null ? null : parseProcPidStat(readFile(`/proc/${targetPid}/stat`) ?? '')
  return {
    stop(clientCpuMs) {
      const cpus1 = parseProcStat(readFile('/proc/stat') ?? '')
      const target1 = targetPid === null ? null : parseProcPidStat(readFile(`/proc/${targetPid}/stat`) ?? '')
      const delta = (i: number): CpuTicks | null => {
        const a = cpus0[i]
        const b = cpus1[i]
        if (a === undefined || b === undefined || b.total <= a.total) return null
        return { busy: b.busy - a.busy, steal: b.steal - a.steal, total: b.total - a.total }
      }
      const other = (d: CpuTicks | null, ownMs: number | null): number | null =>
        d === null || ownMs === null ? null : Math.min(1, Math.max(0, (d.busy * TICK_MS - ownMs) / (d.total * TICK_MS)))
      const d0 = delta(0)
      const d1 = delta(1)
      const targetMs = target0 == null || target1 == null ? null : (target1 - target0) * TICK_MS
      return {
        other_core0: other(d0, clientCpuMs),
        other_core1: other(d1, targetMs),
        steal_core0: d0 === null ? null : d0.steal / d0.total,
        steal_core1: d1 === null ? null : d1.steal / d1.total
      }
    }
  }
}
