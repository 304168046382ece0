/** The results file (packages/bench/results/*.json): the single source the table and the doc are made from. */
import type { CoreUsage } from './core-usage.ts'
import type { MeshSuite } from './suites/mesh.ts'
import type { ReplayLagSuite } from './suites/replay-lag.ts'
export type { CoreUsage, MeshSuite, ReplayLagSuite }

export const RESULTS_SCHEMA = 'loadmesh-bench/1'

export type Status = 'ok' | 'skipped' | 'failed'

export interface Goal {
  description: string
  /** null when the numbers it needs were not measured. */
  met: boolean | null
}

export interface MachineInfo {
  cpu_model: string
  cores: number
  node_version: string
  platform: string
  kernel: string
  /** os.loadavg(): 1, 5 and 15 minutes. */
  load_avg_before: number[]
  load_avg_after: number[]
  date: string
  pinning: { taskset: boolean; client_core: number; target_core: number; note: string | null }
  tools: { nginx: string | null; wrk: string | null; autocannon: string | null }
}

/** One client's measured phase. `value` is the suite's headline unit (req/s or chunks/s). */
export interface ClientMeasurement {
  name: string
  status: Status
  note: string | null
  value: number | null
  completed: number | null
  failed: number | null
  wall_s: number | null
  cpu_s: number | null
  /** Units (requests or chunks) per second of the client's own CPU time. */
  per_cpu_s: number | null
  /** CPU time / wall time: 1.0 is the client's core saturated. */
  cpu_util: number | null
  /** Other work on the two cores during the measured phase (see core-usage.ts). */
  core_usage: CoreUsage | null
  /** `value` of each round (the clients take turns, so a burst of other work hits them all alike). */
  rounds: number[]
}

/** A busy loop pinned to one core (see cpu-probe.ts): how much of the core other work took. */
export interface CpuProbe {
  duration_s: number
  lost_fraction: number
  gaps_over_1ms_per_s: number
  max_gap_ms: number
}

export interface SuiteBase {
  title: string
  status: Status
  note: string | null
  /** 1-minute load average when the suite started (this bench's own processes count too). */
  load_avg_start: number
  /** Probes of the client core (0) and the target core (1), run together just before the suite. */
  cpu_probe: { core0: CpuProbe | null; core1: CpuProbe | null }
  goals: Goal[]
}

export interface ReqPerSSuite extends SuiteBase {
  id: 'req-per-s'
  target: string
  connections: number
  warmup_s: number
  /** Measured time per client, over all rounds. */
  duration_s: number
  /** Rounds of loadmesh and autocannon, which alternate back to back. */
  rounds: number
  /** Rounds of wrk, which runs after them (older results: absent, wrk shared `rounds`). */
  wrk_rounds?: number
  request_bytes: number
  clients: ClientMeasurement[]
  /** loadmesh and autocannon in each round (older results: absent). */
  round_pairs?: RoundPair[]
  /**
   * loadmesh / autocannon req per CPU-second in rounds where both ran at the same time on core 0,
   * so that the VM's noise hits both alike (older results: absent).
   */
  shared_core_per_cpu_s?: number[]
  ratios: {
    loadmesh_over_autocannon: number | null
    loadmesh_over_wrk: number | null
    /** Median over the rounds of loadmesh / autocannon req/s, each pair run back to back. */
    median_round_pair?: number | null
    /** Median of shared_core_per_cpu_s. */
    shared_core_per_cpu_s?: number | null
  }
}

/** One round of the req-per-s pair: req/s of each and their ratios (req/s and req per CPU-second). */
export interface RoundPair {
  loadmesh: number | null
  autocannon: number | null
  ratio: number | null
  ratio_per_cpu_s: number | null
}

export interface SseSuite extends SuiteBase {
  id: 'sse'
  target: string
  connections: number
  warmup_s: number
  /** Measured time per client, over all rounds. */
  duration_s: number
  rounds: number
  content_chunks_per_response: number
  events_per_response: number
  writes_per_response: number
  bytes_per_response: number
  clients: ClientMeasurement[]
  ratios: { loadmesh_over_raw: number | null; loadmesh_over_raw_per_cpu_s: number | null }
}

export interface LagRow {
  rate: number
  /**
   * Where the client ran: 'core 0' pinned (the one-core row), 'host' not pinned (it may use both
   * cores, as an agent that owns its host does; nginx stays alone on core 1). Absent: 'core 0'.
   */
  client?: 'core 0' | 'host'
  /** A busy loop on the client core just before this rate ran: what the machine took away. */
  cpu_probe: CpuProbe | null
  status: Status
  note: string | null
  achieved_rate: number | null
  scheduled: number | null
  sent: number | null
  completed: number | null
  failed: number | null
  dropped: number | null
  schedule_lag_ms: { p50: number | null; p99: number | null; p999: number | null; max: number | null }
  event_loop_delay_ms: { p99: number | null; max: number | null }
  cpu_util: number | null
  core_usage: CoreUsage | null
}

export interface ScheduleLagSuite extends SuiteBase {
  id: 'schedule-lag'
  target: string
  connections: number
  max_in_flight: number
  warmup_s: number
  duration_s: number
  rates: LagRow[]
}

/** The simulator's step engine without HTTP: clients are "virtual time" (value: virtual s per wall s) and "engine" (value: tokens/s). */
export interface SimEngineSuite extends SuiteBase {
  id: 'sim-engine'
  profile: string
  /** The what-if workload the virtual-time row runs. */
  workload: string
  /** Open streams and replicas of the engine row. */
  streams: number
  replicas: number
  warmup_s: number
  duration_s: number
  clients: ClientMeasurement[]
}

/** One row of the simulator-scale suite: N streams held open on the simulator (or the bare frame writer). */
export interface SimulatorScaleRow {
  name: string
  target: 'simulator' | 'raw'
  status: Status
  note: string | null
  streams: number
  itl_ms: number
  tokens_per_chunk: number
  offered_tokens_per_s: number
  /** Streams that got their first token and stayed open to the end. */
  held: number | null
  lost: number | null
  open_s: number | null
  tokens_per_s: number | null
  /** Tokens over the server's own CPU time (from its /metrics). */
  tokens_per_cpu_s: number | null
  writes_per_cpu_s: number | null
  server_cpu_util: number | null
  /** (RSS or heap with every stream open - with none), both after a forced GC, over the streams. */
  rss_kib_per_stream: number | null
  heap_kib_per_stream: number | null
  event_loop_lag_p99_ms: number | null
  event_loop_lag_max_ms: number | null
  backpressure: number | null
  client_cpu_util: number | null
  client_events_per_s: number | null
  core_usage: CoreUsage | null
}

export interface SimulatorScaleSuite extends SuiteBase {
  id: 'simulator-scale'
  warmup_s: number
  duration_s: number
  rows: SimulatorScaleRow[]
}

export type Suite = ReqPerSSuite | SseSuite | ScheduleLagSuite | SimEngineSuite | SimulatorScaleSuite | MeshSuite | ReplayLagSuite

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA
  /** full: every suite at full length (the only kind docs/benchmarks.md is made from). */
  kind: 'full' | 'quick' | 'partial'
  command: string
  machine: MachineInfo
  suites: Suite[]
  warnings: string[]
}

/** Problems with a parsed results file, empty when its shape is right (types, not plausibility). */
export function checkResultsShape(x: unknown): string[] {
  const problems: string[] = []
  const obj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
  const numOrNull = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v))
  if (!obj(x)) return ['results: not a JSON object']
  if (x.schema !== RESULTS_SCHEMA) problems.push(`results.schema: expected "${RESULTS_SCHEMA}", got ${JSON.stringify(x.schema)}`)
  if (!['full', 'quick', 'partial'].includes(x.kind as string)) problems.push(`results.kind: ${JSON.stringify(x.kind)}`)
  const m = x.machine
  if (!obj(m)) problems.push('results.machine: missing')
  else {
    for (const k of ['cpu_model', 'node_version', 'date']) if (typeof m[k] !== 'string') problems.push(`results.machine.${k}: not a string`)
    if (typeof m.cores !== 'number') problems.push('results.machine.cores: not a number')
    for (const k of ['load_avg_before', 'load_avg_after']) {
      const v = m[k]
      if (!Array.isArray(v) || v.length !== 3 || !v.every((n) => typeof n === 'number')) problems.push(`results.machine.${k}: not 3 numbers`)
    }
  }
  if (!Array.isArray(x.suites)) return [...problems, 'results.suites: not an array']
  x.suites.forEach((s: unknown, i) => {
    const where = `results.suites[${i}]`
    if (!obj(s)) { problems.push(`${where}: not an object`); return }
    if (!['req-per-s', 'sse', 'schedule-lag', 'sim-engine', 'simulator-scale', 'mesh', 'replay-lag'].includes(s.id as string)) problems.push(`${where}.id: ${JSON.stringify(s.id)}`)
    if (!['ok', 'skipped', 'failed'].includes(s.status as string)) problems.push(`${where}.status: ${JSON.stringify(s.status)}`)
    const probes = s.cpu_probe
    const probeOk = (v: unknown): boolean => v === null || (obj(v) && typeof v.lost_fraction === 'number' && typeof v.max_gap_ms === 'number')
    if (!obj(probes) || !probeOk(probes.core0) || !probeOk(probes.core1)) problems.push(`${where}.cpu_probe: not { core0, core1 } probes or null`)
    if (!Array.isArray(s.goals) || !s.goals.every((g) => obj(g) && typeof g.description === 'string' && (g.met === null || typeof g.met === 'boolean'))) {
      problems.push(`${where}.goals: not a list of { description, met }`)
    }
    if (s.id === 'req-per-s' || s.id === 'sse' || s.id === 'sim-engine') {
      if (!Array.isArray(s.clients)) problems.push(`${where}.clients: not an array`)
      else {
        s.clients.forEach((c: unknown, j) => {
          if (!obj(c) || typeof c.name !== 'string') { problems.push(`${where}.clients[${j}]: no name`); return }
          for (const k of ['value', 'cpu_s', 'per_cpu_s']) if (!numOrNull(c[k])) problems.push(`${where}.clients[${j}].${k}: not a number or null`)
        })
      }
      if (s.id !== 'sim-engine' && (!obj(s.ratios) || !Object.values(s.ratios).every(numOrNull))) problems.push(`${where}.ratios: not numbers or null`)
    }
    if (s.id === 'simulator-scale' && (!Array.isArray(s.rows) || !s.rows.every((r: unknown) => obj(r) && typeof r.streams === 'number' && numOrNull(r.tokens_per_cpu_s)))) {
      problems.push(`${where}.rows: not a list of rows with streams and tokens_per_cpu_s`)
    }
    if (s.id === 'mesh' && Array.isArray(s.rows)) {
      s.rows.forEach((r: unknown, j) => {
        const b = obj(r) ? r.bare_skew_ms : undefined
        if (b !== undefined && b !== null && !(obj(b) && typeof b.samples === 'number' && numOrNull(b.p50) && numOrNull(b.p99))) {
          problems.push(`${where}.rows[${j}].bare_skew_ms: not { samples, p50, p99 }`)
        }
        const byRep = obj(r) ? r.own_clock_skew_by_repetition : undefined
        if (byRep !== undefined && !(Array.isArray(byRep) && byRep.every((x: unknown) => obj(x) && numOrNull(x.max_ms) && typeof x.over_goal === 'number'))) {
          problems.push(`${where}.rows[${j}].own_clock_skew_by_repetition: not a list of { max_ms, over_goal }`)
        }
      })
    }
    if (s.id === 'replay-lag' && s.baselines !== undefined && s.baselines !== null) {
      const b = s.baselines
      const ok = (v: unknown): boolean => obj(v) && typeof v.over_2ms === 'number' && obj(v.lag_ms) && numOrNull(v.lag_ms.max)
      if (!obj(b) || !ok(b.spin) || !ok(b.sleep)) problems.push(`${where}.baselines: not { spin, sleep } with lag_ms and over_2ms`)
    }
    if (s.id === 'schedule-lag') {
      if (!Array.isArray(s.rates)) problems.push(`${where}.rates: not an array`)
      else {
        s.rates.forEach((r: unknown, j) => {
          if (!obj(r) || typeof r.rate !== 'number') { problems.push(`${where}.rates[${j}]: no rate`); return }
          const lag = r.schedule_lag_ms
          if (!obj(lag) || !['p50', 'p99', 'p999'].every((k) => numOrNull(lag[k]))) problems.push(`${where}.rates[${j}].schedule_lag_ms: bad`)
        })
      }
    }
  })
  if (!Array.isArray(x.warnings)) problems.push('results.warnings: not an array')
  return problems
}

/** The entry for a suite that could not run at all (its own error handling did not get a chance). */
export function failedSuite(id: Suite['id'], message: string): Suite {
  const base = {
    title: id, status: 'failed' as const, note: message, load_avg_start: 0,
    cpu_probe: { core0: null, core1: null }, goals: [], target: 'n/a', connections: 0, warmup_s: 0, duration_s: 0
  }
  if (id === 'req-per-s') return { ...base, id, rounds: 0, request_bytes: 0, clients: [], ratios: { loadmesh_over_autocannon: null, loadmesh_over_wrk: null } }
  if (id === 'sse') {
    return {
      ...base, id, rounds: 0, content_chunks_per_response: 0, events_per_response: 0, writes_per_response: 0, bytes_per_response: 0,
      clients: [], ratios: { loadmesh_over_raw: null, loadmesh_over_raw_per_cpu_s: null }
    }
  }
  if (id === 'sim-engine') return { ...base, id, profile: 'n/a', workload: 'n/a', streams: 0, replicas: 0, clients: [] }
  if (id === 'simulator-scale') return { ...base, id, rows: [] }
  if (id === 'mesh') return { ...base, id, heartbeat_ms: 0, rate_per_agent: 0, stage_ms: 0, start_in_ms: 0, rows: [] }
  if (id === 'replay-lag') {
    return {
      ...base, id, log: 'n/a', speedup: 0, window: null, warmup_window: 'n/a', scheduled: null, sent: null, failed: null, dropped: null, duration_s: null,
      schedule_lag_ms: { p50: null, p99: null, p999: null, max: null }, over_1ms: null, over_2ms: null, event_loop_delay_ms: { p99: null, max: null },
      cpu_util: null, core_usage: null, probe_after: null, baselines: null
    }
  }
  return { ...base, id, max_in_flight: 0, rates: [] }
}

/** Other-work share of a core during a measured phase: other processes plus the hypervisor's steal. */
export function takenShare(u: CoreUsage | null, core: 0 | 1): number | null {
  if (u === null) return null
  const other = core === 0 ? u.other_core0 : u.other_core1
  const steal = core === 0 ? u.steal_core0 : u.steal_core1
  return other === null && steal === null ? null : (other ?? 0) + (steal ?? 0)
}

export interface Noise {
  /** Largest share of a core other work took during any measured phase (null: never known). */
  taken_max: number | null
  /** Largest share a busy-loop probe lost, and its longest gap (null: no probe ran). */
  probe_lost_max: number | null
  probe_gap_max_ms: number | null
}

/** How disturbed a run was, over every suite, client, rate and probe. */
export function runNoise(suites: Suite[]): Noise {
  let taken: number | null = null
  let lost: number | null = null
  let gap: number | null = null
  const probe = (p: CpuProbe | null): void => {
    if (p === null) return
    lost = Math.max(lost ?? 0, p.lost_fraction)
    gap = Math.max(gap ?? 0, p.max_gap_ms)
  }
  for (const s of suites) {
    probe(s.cpu_probe.core0)
    probe(s.cpu_probe.core1)
    if (s.id === 'schedule-lag') for (const r of s.rates) probe(r.cpu_probe)
    if (s.id === 'replay-lag') probe(s.probe_after)
    const usages = s.id === 'schedule-lag' ? s.rates.map((x) => x.core_usage) : s.id === 'simulator-scale' ? s.rows.map((x) => x.core_usage) : s.id === 'mesh' ? [] : s.id === 'replay-lag' ? [s.core_usage] : s.clients.map((c) => c.core_usage)
    for (const u of usages) {
      for (const v of [takenShare(u, 0), takenShare(u, 1)]) if (v !== null) taken = Math.max(taken ?? 0, v)
    }
  }
  return { taken_max: taken, probe_lost_max: lost, probe_gap_max_ms: gap }
}
