import type { ProcessRegistry } from '../processes.ts'
import { takenShare } from '../results.ts'
import type { ClientMeasurement, CoreUsage, CpuProbe, Status } from '../results.ts'
import { startCoreUsage } from '../core-usage.ts'
import type { CoreUsageMeter } from '../core-usage.ts'
import type { Tools } from '../tools.ts'
import { describeProbe } from '../format.ts'
import { runWorker, workerPath } from '../worker-protocol.ts'
import type { WorkerRunOptions } from '../worker-protocol.ts'
import type { CpuProbeConfig } from '../workers/cpu-probe.ts'

/** What every suite gets from run.ts. */
export interface BenchContext {
  registry: ProcessRegistry
  tools: Tools
  /** A mkdtemp directory, removed at exit. */
  tmpDir: string
  warmupMs: number
  /** Measured time per client (split over `rounds` in the comparison suites). */
  durationMs: number
  /** The comparison suites run their clients in this many interleaved rounds. */
  rounds: number
  seed: string
  /** When set, the Node client workers write CPU profiles here. */
  profileDir: string | null
  /** Progress lines for the terminal. */
  log: (line: string) => void
}

export const CLIENT_CORE = 0
export const TARGET_CORE = 1

/** How long a worker may take: warm-up + measurement + startup and drain slack. */
export function workerTimeoutMs(ctx: BenchContext): number {
  return ctx.warmupMs + ctx.durationMs + 30_000
}

export function profileArgs(ctx: BenchContext, name: string): string[] {
  return ctx.profileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir, '--cpu-prof-name', `${name}.cpuprofile`]
}

/** A measured client: `units` (requests or chunks) over the wall time and over the client's CPU time. */
export function measured(name: string, m: { units: number; completed: number; failed: number; wallMs: number; cpuMs: number | null; note?: string | null; usage: CoreUsage | null }): ClientMeasurement {
  const wallS = m.wallMs / 1000
  const cpuS = m.cpuMs === null ? null : m.cpuMs / 1000
  return {
    name,
    status: 'ok',
    note: m.note ?? (m.failed > 0 ? `${m.failed} requests failed` : null),
    value: wallS > 0 ? m.units / wallS : null,
    completed: m.completed,
    failed: m.failed,
    wall_s: wallS,
    cpu_s: cpuS,
    per_cpu_s: cpuS !== null && cpuS > 0 ? m.units / cpuS : null,
    cpu_util: cpuS !== null && wallS > 0 ? cpuS / wallS : null,
    core_usage: m.usage,
    rounds: []
  }
}

export function notMeasured(name: string, status: Exclude<Status, 'ok'>, note: string): ClientMeasurement {
  return { name, status, note, value: null, completed: null, failed: null, wall_s: null, cpu_s: null, per_cpu_s: null, cpu_util: null, core_usage: null, rounds: [] }
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || !(b > 0) ? null : a / b
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export interface ClientSpec {
  name: string
  /** Why the client cannot run here (a missing tool), or null. */
  skip: string | null
  /** One round: warm-up, then `durationMs` measured. `round` counts from 0. */
  run(durationMs: number, round: number): Promise<ClientMeasurement>
}

/**
 * Runs every client in `ctx.rounds` rounds, rotating who goes first, and sums each client's
 * rounds into one measurement. Machine noise comes and goes on a shared machine; interleaving
 * spreads it over all clients instead of letting it land on whichever ran at the wrong time.
 * A failed round is left out and noted; a client with no good round is 'failed'.
 */
export async function measureClients(ctx: BenchContext, specs: ClientSpec[]): Promise<ClientMeasurement[]> {
  const rounds = Math.max(1, ctx.rounds)
  const perRound = ctx.durationMs / rounds
  const done = new Map<string, ClientMeasurement[]>()
  const failures = new Map<string, string[]>()
  const runnable = specs.filter((s) => s.skip === null)
  for (const s of specs) if (s.skip !== null) ctx.log(`  ${s.name}: skipped: ${s.skip}`)
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < runnable.length; k++) {
      const spec = runnable[(k + r) % runnable.length]
      const tag = rounds > 1 ? `${spec.name} (round ${r + 1}/${rounds})` : spec.name
      try {
        const m = await spec.run(perRound, r)
        ctx.log(`  ${tag}: ${m.value === null ? 'n/a' : Math.round(m.value).toLocaleString('en-US')}/s, client CPU ${m.cpu_util === null ? 'n/a' : `${Math.round(m.cpu_util * 100)}%`}` +
          `, other work ${pct(takenShare(m.core_usage, 0))} / ${pct(takenShare(m.core_usage, 1))}${m.note === null ? '' : ` (${m.note})`}`)
        done.set(spec.name, [...(done.get(spec.name) ?? []), m])
      } catch (err) {
        ctx.log(`  ${tag}: FAILED: ${errorText(err)}`)
        failures.set(spec.name, [...(failures.get(spec.name) ?? []), errorText(err)])
      }
    }
  }
  return specs.map((s) => {
    if (s.skip !== null) return notMeasured(s.name, 'skipped', s.skip)
    const ms = done.get(s.name) ?? []
    const errs = failures.get(s.name) ?? []
    if (ms.length === 0) return notMeasured(s.name, 'failed', errs[0] ?? 'no round ran')
    const combined = combine(s.name, ms)
    const notes = [...new Set(ms.map((m) => m.note).filter((n): n is string => n !== null))]
    if (errs.length > 0) notes.push(`${errs.length} of ${rounds} rounds failed: ${errs[0]}`)
    return { ...combined, note: notes.length === 0 ? null : notes.join('; ') }
  })
}

function pct(v: number | null): string {
  return v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`
}

/** Sums rounds: rates over total wall time, efficiency over total CPU, noise weighted by wall time. */
function combine(name: string, ms: ClientMeasurement[]): ClientMeasurement {
  let units = 0
  let wall = 0
  let cpu: number | null = 0
  let completed = 0
  let failed = 0
  for (const m of ms) {
    units += (m.value ?? 0) * (m.wall_s ?? 0)
    wall += m.wall_s ?? 0
    cpu = cpu === null || m.cpu_s === null ? null : cpu + m.cpu_s
    completed += m.completed ?? 0
    failed += m.failed ?? 0
  }
  const avg = (pick: (u: CoreUsage) => number | null): number | null => {
    let sum = 0
    let w = 0
    for (const m of ms) {
      const v = m.core_usage === null ? null : pick(m.core_usage)
      if (v === null || m.wall_s === null) return null
      sum += v * m.wall_s
      w += m.wall_s
    }
    return w > 0 ? sum / w : null
  }
  return {
    name,
    status: 'ok',
    note: null,
    value: wall > 0 ? units / wall : null,
    completed,
    failed,
    wall_s: wall,
    cpu_s: cpu,
    per_cpu_s: cpu !== null && cpu > 0 ? units / cpu : null,
    cpu_util: cpu !== null && wall > 0 ? cpu / wall : null,
    core_usage: {
      other_core0: avg((u) => u.other_core0),
      other_core1: avg((u) => u.other_core1),
      steal_core0: avg((u) => u.steal_core0),
      steal_core1: avg((u) => u.steal_core1)
    },
    rounds: ms.map((m) => m.value ?? 0)
  }
}

/** Probe length: long enough to catch a few scheduler time slices of other work, short enough to repeat. */
export function probeMs(ctx: BenchContext): number {
  return Math.min(2000, ctx.durationMs / 2)
}

/** A busy-loop probe on one core; null (and a log line) if it could not run. */
export async function probeCore(ctx: BenchContext, core: number, durationMs = probeMs(ctx)): Promise<CpuProbe | null> {
  try {
    const config: CpuProbeConfig = { deadlineMs: durationMs + 20_000, durationMs }
    return await runWorker<CpuProbe>(ctx.registry, workerPath('cpu-probe.ts'), config, { core, timeoutMs: durationMs + 20_000 })
  } catch (err) {
    ctx.log(`  core ${core} probe failed: ${errorText(err)}`)
    return null
  }
}

/** Both cores at once, as the suite is about to load them. */
export async function probeBothCores(ctx: BenchContext): Promise<{ core0: CpuProbe | null; core1: CpuProbe | null }> {
  const [core0, core1] = await Promise.all([probeCore(ctx, CLIENT_CORE), probeCore(ctx, TARGET_CORE)])
  ctx.log(`  probe: other work took ${describeProbe(core0)} of core 0 and ${describeProbe(core1)} of core 1`)
  return { core0, core1 }
}

/**
 * Runs a client worker and accounts for the other work on both cores during its measured phase
 * (from its "measuring" signal to its result). `targetPid`: the process on core 1.
 */
export async function runMeasuredWorker<T extends { cpuMs: number }>(
  ctx: BenchContext, script: string, config: unknown, o: Omit<WorkerRunOptions, 'onMeasuring'>, targetPid: number | null
): Promise<{ result: T; usage: CoreUsage | null }> {
  let meter: CoreUsageMeter | null = null
  const result = await runWorker<T>(ctx.registry, workerPath(script), config, { ...o, onMeasuring: () => { meter = startCoreUsage(targetPid) } })
  const usage = (meter as CoreUsageMeter | null)?.stop(result.cpuMs) ?? null
  return { result, usage }
}
