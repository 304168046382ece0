import { monitorEventLoopDelay } from 'node:perf_hooks'

/**
 * The generator's own health, reported beside every result: a load generator that cannot keep up
 * must say so instead of reporting the server as slow (the most common complaint about LLM
 * benchmark tools). Event-loop delay is sampled by Node's built-in monitor (no timers of ours).
 */
export interface InjectorHealth {
  event_loop_delay_ms: { p50: number; p99: number; max: number; mean: number }
  cpu: { user_s: number; system_s: number; /** CPU time / wall time; 1.0 = one core saturated */ utilisation: number }
}

export interface HealthMonitor {
  start(): void
  /** Current view, cheap enough for the live panel. */
  read(): InjectorHealth
  stop(): InjectorHealth
}

export function createHealthMonitor(): HealthMonitor {
  let h: ReturnType<typeof monitorEventLoopDelay> | undefined
  let cpu0 = process.cpuUsage()
  let t0 = performance.now()
  const read = (): InjectorHealth => {
    const cpu = process.cpuUsage(cpu0)
    const wall = Math.max(1e-9, (performance.now() - t0) / 1000)
    const ns = (v: number | bigint): number => Number(v) / 1e6
    return {
      event_loop_delay_ms: h === undefined || h.count === 0
        ? { p50: 0, p99: 0, max: 0, mean: 0 }
        : { p50: ns(h.percentile(50)), p99: ns(h.percentile(99)), max: ns(h.max), mean: ns(h.mean) },
      cpu: { user_s: cpu.user / 1e6, system_s: cpu.system / 1e6, utilisation: (cpu.user + cpu.system) / 1e6 / wall }
    }
  }
  return {
    start () {
      // 1 ms resolution: coarser sampling hides exactly the sub-10 ms stalls that distort TTFT.
      h = monitorEventLoopDelay({ resolution: 1 })
      h.enable()
      cpu0 = process.cpuUsage()
      t0 = performance.now()
    },
    read,
    stop () {
      const r = read()
      h?.disable()
      return r
    }
  }
}
