import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BenchError } from '../bench-error.ts'
import { fmtFixed, fmtGoal, fmtInt, mdTable, textTable } from '../format.ts'
import { freeListenPort } from '../ports.ts'
import type { Goal, Status, SuiteBase } from '../results.ts'
import { runWorker, startServerWorker, workerPath } from '../worker-protocol.ts'
import type { ServerWorker } from '../worker-protocol.ts'
import type { MeshControllerConfig, MeshControllerResult } from '../workers/mesh-controller.ts'
import type { StartBaseline, StartBaselineConfig } from '../workers/start-baseline.ts'
import type { SimulatorServerConfig } from '../workers/simulator-server.ts'
import { CLIENT_CORE, errorText, probeBothCores, TARGET_CORE } from './context.ts'
import type { BenchContext } from './context.ts'
import { quantile } from '../quantile.ts'

const BIN = fileURLToPath(new URL('../../../cli/src/bin.ts', import.meta.url))
const TITLE = 'Mesh: membership convergence, plan start skew, reconcile time and gossip bytes against N agents'
export const MESH_SIZES = [2, 4, 8, 16] as const
export const QUICK_MESH_SIZES = [2, 4] as const
export const GOAL_SKEW_P99_MS = 5
export const GOAL_CONVERGENCE_MS = 2000
export const GOAL_RECONCILE_MS = 250
const RATE_PER_AGENT = 4
const STAGE_MS = 2000
const START_IN_MS = 2000
const IDLE_MS = 3000
/**
 * Agents booting at once: each boot is ~2 s of CPU (type stripping, libp2p, the tokenizer), and 16
 * at once on 2 cores starve each other for tens of seconds. Convergence is measured from the last
 * agent being up, so booting in waves changes what the earlier agents did meanwhile, not what is
 * measured.
 */
const BOOT_WAVE = 4
/** Repetitions of the bare-process start (each a shared T0 for N processes). */
const BARE_REPETITIONS = 5
/** Repetitions at 16 agents: 7 × 16 = 112 first sends, so a p99 is not simply their maximum. */
const SKEW_REPETITIONS_16 = 7
const LISTEN_TIMEOUT_MS = 120_000
/** The CLI's defaults: the mesh as users run it. */
const HEARTBEAT_MS = 1000

/** One mesh size. Times in ms; gossip in payload bytes (in + out) per agent per second. */
export interface MeshRow {
  agents: number
  status: Status
  note: string | null
  /** From the last agent process being up (listening) until every agent had heard every other. */
  convergence_ms: number | null
  /**
   * |first request of the plan's first stage − T0| per agent, on its own clock corrected by its
   * offset from the controller's, over every agent and repetition.
   */
  start_skew_ms: { samples: number; p50: number | null; p99: number | null; max: number | null }
  /** |first request − T0| on each agent's own clock, not corrected (one host: one clock). */
  own_clock_skew_ms: { p50: number | null; p99: number | null }
  /**
   * Per repetition (one plan, one T0): the latest agent's own-clock |skew| and how many agents
   * were over the goal. Shows whether late sends come together (something host-wide near that
   * T0) or one at a time. Absent from results files written before it existed.
   */
  own_clock_skew_by_repetition?: Array<{ max_ms: number | null; over_goal: number }>
  /**
   * The same start met by N bare processes (workers/start-baseline.ts), run right after the agents
   * stopped: what this host allows N processes that start at one instant. Null if it could not run;
   * absent from results files written before it existed, so readers use `?? null`.
   */
  bare_skew_ms?: { samples: number; p50: number | null; p99: number | null } | null
  reconcile_ms: { p50: number | null; max: number | null }
  gossip_bytes_per_s: { idle: number | null; run: number | null }
  /**
   * CPU seconds per agent per second (user + system, /proc): idle over the controller's idle
   * window, and from publishing a plan to the run's end (mean over repetitions).
   */
  cpu_per_agent: { idle: number | null; run: number | null }
  max_clock_offset_ms: number | null
  repetitions: number
  /** Requests completed over all repetitions, and the reconciles that came back complete. */
  completed: number | null
  complete_reconciles: number | null
}

export interface MeshSuite extends SuiteBase {
  id: 'mesh'
  heartbeat_ms: number
  rate_per_agent: number
  stage_ms: number
  start_in_ms: number
  rows: MeshRow[]
}

/**
 * Suite: N `loadmesh agent` processes on loopback (each its own process, default heartbeat, seeded
 * with the first two), a simulator as the target, and a controller peer in a worker process that
 * publishes short constant-rate plans. For N = 2, 4, 8, 16 (--quick: 2, 4): how long until every
 * agent has heard every other, how far from T0 each agent sends its first request, how long a
 * reconcile of all N takes, and the gossip each agent sends and receives, idle and during a run.
 */
export async function runMeshSuite(ctx: BenchContext): Promise<MeshSuite> {
  ctx.log(`[mesh] ${TITLE}`)
  // --quick is the only run with a single round.
  const quick = ctx.rounds <= 1
  const sizes = quick ? QUICK_MESH_SIZES : MESH_SIZES
  const repetitions = quick ? 2 : 3
  const base = {
    id: 'mesh' as const,
    title: TITLE,
    load_avg_start: loadavg()[0],
    cpu_probe: await probeBothCores(ctx),
    heartbeat_ms: HEARTBEAT_MS,
    rate_per_agent: RATE_PER_AGENT,
    stage_ms: STAGE_MS,
    start_in_ms: START_IN_MS
  }
  const key = join(ctx.tmpDir, 'mesh-swarm.key')
  let target: ServerWorker
  try {
    await keygen(key)
    const config: SimulatorServerConfig = { deadlineMs: 600_000, ttftMs: 5, itlMs: 1, tokensPerChunk: 1, seed: ctx.seed, gcPrompt: '\u0000never' }
    target = await startServerWorker(ctx.registry, workerPath('simulator-server.ts'), config, { core: TARGET_CORE, timeoutMs: 30_000 })
  } catch (err) {
    ctx.log(`  FAILED: ${errorText(err)}`)
    return { ...base, status: 'failed', note: errorText(err), goals: meshGoals([], quick), rows: [] }
  }
  const rows: MeshRow[] = []
  try {
    // At 16 agents the skew is nearest its bound: enough repetitions that its p99 is one of over
    // 100 samples, not their maximum (each costs ~10 s).
    for (const n of sizes) rows.push(await measureSize(ctx, n, n >= 16 && !quick ? SKEW_REPETITIONS_16 : repetitions, key, `http://127.0.0.1:${target.port}`))
  } finally {
    await target.stop()
  }
  const ok = rows.filter((r) => r.status === 'ok')
  return {
    ...base,
    status: ok.length > 0 ? 'ok' : 'failed',
    note: ok.length === rows.length ? null : `${rows.length - ok.length} of ${rows.length} sizes failed`,
    goals: meshGoals(rows, quick),
    rows
  }
}

export function meshGoals(rows: MeshRow[], quick: boolean): Goal[] {
  const ok = rows.filter((r) => r.status === 'ok')
  const skews = ok.map(judgedSkewP99).filter((v): v is number => v !== null)
  const big = ok.find((r) => r.agents === 16)
  return [
    { description: `plan start skew p99 ≤ ${GOAL_SKEW_P99_MS} ms on loopback (each agent's own clock), at every N${quick ? ' measured (--quick: N = 2, 4)' : ''}`, met: skews.length === 0 ? null : skews.every((v) => v <= GOAL_SKEW_P99_MS) },
    { description: `membership convergence ≤ ${GOAL_CONVERGENCE_MS / 1000} s with 16 agents`, met: big?.convergence_ms == null ? null : big.convergence_ms <= GOAL_CONVERGENCE_MS },
    { description: `reconcile of 16 peers ≤ ${GOAL_RECONCILE_MS} ms (median)`, met: big?.reconcile_ms.p50 == null ? null : big.reconcile_ms.p50 <= GOAL_RECONCILE_MS }
  ]
}

/**
 * The skew the goal is judged on: each agent's own clock. Every agent here reads one clock, the
 * host's (through its process's wall calibration, good to a few µs); subtracting the offsets the
 * controller's probes measured would only add their error, up to ~0.6 ms at 16 agents on 2 cores
 * (the "max |offset|" column, which is all error here). Across hosts only the corrected figure
 * exists, and it is shown beside this one.
 */
function judgedSkewP99(r: MeshRow): number | null {
  return r.own_clock_skew_ms.p99
}

function emptyRow(n: number, repetitions: number): MeshRow {
  return {
    agents: n, status: 'failed', note: null, convergence_ms: null, start_skew_ms: { samples: 0, p50: null, p99: null, max: null }, own_clock_skew_ms: { p50: null, p99: null }, bare_skew_ms: null,
    reconcile_ms: { p50: null, max: null }, gossip_bytes_per_s: { idle: null, run: null }, cpu_per_agent: { idle: null, run: null }, max_clock_offset_ms: null,
    repetitions, completed: null, complete_reconciles: null
  }
}

interface AgentProc {
  child: ChildProcess
  peerId: string
  metricsUrl: string
  /** Date.now() when it said it was listening. */
  upAt: number
  /** Peer id → wall ms of the first "member joined" line for that agent. */
  joined: Map<string, number>
  stderr: () => string
}

async function measureSize(ctx: BenchContext, n: number, repetitions: number, key: string, target: string): Promise<MeshRow> {
  ctx.log(`  ${n} agents: starting`)
  const row = emptyRow(n, repetitions)
  const mesh = `bench-${n}`
  const agents: AgentProc[] = []
  try {
    const taken = new Set<number>()
    const ports: number[] = []
    for (let i = 0; i < n; i++) ports.push(await freeListenPort(taken))
    const seeds = ports.slice(0, 2).map((p) => `127.0.0.1:${p}`)
    for (let from = 0; from < n; from += BOOT_WAVE) {
      const started = await Promise.allSettled(ports.slice(from, from + BOOT_WAVE).map((port, k) => startAgent(ctx, [
        'agent', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--seeds', seeds.join(','), '--swarm-key', key,
        '--identity', join(ctx.tmpDir, `mesh-${n}-${from + k}.id`), '--mesh', mesh, '--metrics-port', '0', '--metrics-host', '127.0.0.1'
      ])))
      for (const s of started) if (s.status === 'fulfilled') agents.push(s.value)
      const failed = started.find((s) => s.status === 'rejected')
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
    }
    const lastUp = Math.max(...agents.map((a) => a.upAt))
    const ids = agents.map((a) => a.peerId)
    // Every agent has logged a join for every other agent (a line per member, wall-clock stamped).
    const converged = await waitFor(() => agents.every((a) => ids.every((p) => p === a.peerId || a.joined.has(p))), 60_000)
    if (converged) row.convergence_ms = Math.max(0, Math.max(...agents.map((a) => Math.max(...a.joined.values()))) - lastUp)
    const config: MeshControllerConfig = {
      deadlineMs: 600_000,
      swarmKeyPath: key,
      identityPath: join(ctx.tmpDir, `mesh-${n}-controller.id`),
      mesh,
      seeds,
      agents: Object.fromEntries(agents.map((a) => [a.peerId, a.metricsUrl])),
      pids: agents.map((a) => a.child.pid).filter((p): p is number => p !== undefined),
      repetitions,
      ratePerAgent: RATE_PER_AGENT,
      stageMs: STAGE_MS,
      startInMs: START_IN_MS,
      idleMs: IDLE_MS,
      target
    }
    const r = await runWorker<MeshControllerResult>(ctx.registry, workerPath('mesh-controller.ts'), config, { core: CLIENT_CORE, timeoutMs: 60_000 + repetitions * 40_000 })
    const skew = r.repetitions.flatMap((x) => x.skew_ms.map(Math.abs)).sort((a, b) => a - b)
    const rec = r.repetitions.map((x) => x.reconcile_ms).sort((a, b) => a - b)
    row.start_skew_ms = { samples: skew.length, p50: quantile(skew, 0.5), p99: quantile(skew, 0.99), max: skew.at(-1) ?? null }
    const own = r.repetitions.flatMap((x) => x.own_clock_skew_ms.map(Math.abs)).sort((a, b) => a - b)
    row.own_clock_skew_ms = { p50: quantile(own, 0.5), p99: quantile(own, 0.99) }
    row.own_clock_skew_by_repetition = r.repetitions.map((x) => {
      const abs = x.own_clock_skew_ms.map(Math.abs)
      return { max_ms: abs.length === 0 ? null : Math.max(...abs), over_goal: abs.filter((v) => v > GOAL_SKEW_P99_MS).length }
    })
    row.reconcile_ms = { p50: quantile(rec, 0.5), max: rec.at(-1) ?? null }
    row.gossip_bytes_per_s = { idle: r.idle_gossip_bytes_per_s, run: mean(r.repetitions.map((x) => x.gossip_bytes_per_s)) }
    row.cpu_per_agent = { idle: r.idle_cpu_per_agent, run: mean(r.repetitions.map((x) => x.cpu_per_agent).filter((v): v is number => v !== null)) }
    row.max_clock_offset_ms = Math.max(0, ...r.repetitions.map((x) => x.max_offset_ms))
    row.completed = r.repetitions.reduce((s, x) => s + x.completed, 0)
    row.complete_reconciles = r.repetitions.filter((x) => x.coverage_complete && x.answered === n).length
    const notes: string[] = []
    if (!converged) notes.push('not every agent logged every other one\'s join within 60 s')
    if (r.problems.length > 0) notes.push(...r.problems.slice(0, 3))
    if (row.complete_reconciles < repetitions) notes.push(`${repetitions - row.complete_reconciles} of ${repetitions} reconciles incomplete`)
    row.status = 'ok'
    row.note = notes.length === 0 ? null : notes.join('; ')
    ctx.log(`  ${n} agents: convergence ${fmtFixed(row.convergence_ms, 0)} ms, start skew p50 ${fmtFixed(row.start_skew_ms.p50, 2)} / p99 ${fmtFixed(row.start_skew_ms.p99, 2)} ms ` +
      `(own clock p99 ${fmtFixed(row.own_clock_skew_ms.p99, 2)}), ` +
      `reconcile ${fmtFixed(row.reconcile_ms.p50, 1)} ms, gossip ${fmtInt(row.gossip_bytes_per_s.idle)} B/s idle, ${fmtInt(row.gossip_bytes_per_s.run)} B/s running, ` +
      `CPU per agent ${fmtFixed(row.cpu_per_agent.idle, 3)} idle, ${fmtFixed(row.cpu_per_agent.run, 3)} running${row.note === null ? '' : ` (${row.note})`}`)
  } catch (err) {
    row.status = 'failed'
    row.note = errorText(err)
    ctx.log(`  ${n} agents: FAILED: ${row.note}`)
  } finally {
    await Promise.all(agents.map(async (a) => await ctx.registry.stop(a.child, 3000)))
  }
  if (row.status === 'ok') row.bare_skew_ms = await measureBareStart(ctx, n, target)
  return row
}

/** The start-skew baseline for N (workers/start-baseline.ts); null, and a log line, if it failed. */
async function measureBareStart(ctx: BenchContext, n: number, target: string): Promise<MeshRow['bare_skew_ms']> {
  const config: StartBaselineConfig = { deadlineMs: 120_000, processes: n, repetitions: BARE_REPETITIONS, target, leadMs: 300, gapMs: 500 }
  try {
    const r = await runWorker<StartBaseline>(ctx.registry, workerPath('start-baseline.ts'), config, { core: null, timeoutMs: config.deadlineMs })
    const late = r.late_ms.map(Math.abs).sort((a, b) => a - b)
    const out = { samples: late.length, p50: quantile(late, 0.5), p99: quantile(late, 0.99) }
    ctx.log(`  ${n} bare processes meeting one T0 (baseline): start skew p50 ${fmtFixed(out.p50, 2)} / p99 ${fmtFixed(out.p99, 2)} ms over ${out.samples}`)
    return out
  } catch (err) {
    ctx.log(`  ${n} bare processes (baseline): FAILED: ${errorText(err)}`)
    return null
  }
}

/**
 * Per size that missed the skew goal, what its baseline says: whether N bare processes, doing
 * nothing else, met the bound on this host in the same run.
 */
export function startSkewVerdicts(s: MeshSuite): string[] {
  const out: string[] = []
  for (const r of s.rows) {
    const bare = r.bare_skew_ms ?? null
    const p99 = judgedSkewP99(r)
    if (r.status !== 'ok' || p99 === null || p99 <= GOAL_SKEW_P99_MS || bare === null || bare.p99 === null) continue
    const head = `start skew at ${r.agents} agents: p99 ${fmtFixed(p99, 2)} ms; ${r.agents} bare processes meeting one T0 with nothing else to do: p99 ${fmtFixed(bare.p99, 2)} ms`
    const reps = r.own_clock_skew_by_repetition ?? []
    const byRep = reps.length === 0
      ? ''
      : `; agents over ${GOAL_SKEW_P99_MS} ms by repetition: ${reps.map((x) => x.over_goal).join(', ')} (latest agent ${reps.map((x) => fmtFixed(x.max_ms, 1)).join(', ')} ms)`
    out.push(bare.p99 > GOAL_SKEW_P99_MS
      ? `${head}: even they missed ${GOAL_SKEW_P99_MS} ms, so no agent on this host could have met it in this run${byRep}`
      : `${head}: the bound was within this host's reach in this run${byRep}`)
  }
  return out
}

/** Starts a `loadmesh agent` and resolves once it listens (its peer id and metrics URL known). */
function startAgent(ctx: BenchContext, args: string[]): Promise<AgentProc> {
  // The compile cache (per run) saves a part of each boot's module compilation after the first.
  const env = { ...process.env, NODE_COMPILE_CACHE: join(ctx.tmpDir, 'node-compile-cache') }
  const child = ctx.registry.spawn(null, process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env })
  let err = ''
  const joined = new Map<string, number>()
  return new Promise((resolve, reject) => {
    let done = false
    const timer = setTimeout(() => finish(new BenchError('ERR_WORKER_TIMEOUT', `loadmesh agent not listening within ${LISTEN_TIMEOUT_MS / 1000} s: ${err.slice(-2000)}`)), LISTEN_TIMEOUT_MS)
    const finish = (e: Error | null, value?: AgentProc): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (e !== null) reject(e)
      else resolve(value as AgentProc)
    }
    let scanned = 0
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d
      // Only complete lines; the log keeps growing for the agent's whole life, so scan once.
      const end = err.lastIndexOf('\n') + 1
      for (const line of err.slice(scanned, end).split('\n')) {
        const j = /^(\S+) info member joined peer=(\S+) role=agent/.exec(line)
        if (j !== null && !joined.has(j[2])) joined.set(j[2], Date.parse(j[1]))
        const up = /^loadmesh agent (\S+) listening on/.exec(line)
        const metrics = /metrics on (http:\/\/\S+)/.exec(err)
        if (up !== null && metrics !== null) {
          finish(null, { child, peerId: up[1], metricsUrl: metrics[1], upAt: Date.now(), joined, stderr: () => err })
        }
      }
      scanned = end
      if (err.length > 1_000_000) { err = err.slice(-100_000); scanned = 0 }
    })
    child.once('exit', (code, signal) => finish(new BenchError('ERR_WORKER_FAILED', `loadmesh agent exited (${code ?? signal}): ${err.slice(-2000)}`)))
  })
}

function keygen(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'keygen', '--out', path], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
    child.once('error', reject)
    child.once('close', (code) => code === 0 ? resolve() : reject(new BenchError('ERR_WORKER_FAILED', `loadmesh keygen exited ${code}: ${err}`)))
  })
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 50))
  }
  return true
}

function mean(v: readonly number[]): number | null {
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length
}

const HEADER = ['agents', 'convergence ms', 'skew p50 ms', 'skew p99 ms', 'skew max ms', 'own clock p99 ms', 'bare skew p50 ms', 'bare skew p99 ms', 'reconcile p50 ms', 'reconcile max ms', 'gossip idle B/s', 'gossip running B/s', 'CPU/agent idle', 'CPU/agent running', 'max |offset| ms']

function cells(r: MeshRow): string[] {
  return [
    `${r.agents}${r.status === 'ok' ? '' : ` (${r.status})`}`,
    fmtInt(r.convergence_ms),
    fmtFixed(r.start_skew_ms.p50, 2),
    fmtFixed(r.start_skew_ms.p99, 2),
    fmtFixed(r.start_skew_ms.max, 2),
    fmtFixed(r.own_clock_skew_ms.p99, 2),
    fmtFixed(r.bare_skew_ms?.p50 ?? null, 2),
    fmtFixed(r.bare_skew_ms?.p99 ?? null, 2),
    fmtFixed(r.reconcile_ms.p50, 1),
    fmtFixed(r.reconcile_ms.max, 1),
    fmtInt(r.gossip_bytes_per_s.idle),
    fmtInt(r.gossip_bytes_per_s.run),
    fmtFixed(r.cpu_per_agent?.idle ?? null, 3),
    fmtFixed(r.cpu_per_agent?.run ?? null, 3),
    fmtFixed(r.max_clock_offset_ms, 2)
  ]
}

/** The suite's table and notes for the terminal. */
export function meshText(s: MeshSuite): string[] {
  const out: string[] = []
  if (s.rows.length > 0) out.push(textTable(HEADER, s.rows.map(cells)))
  for (const r of s.rows) if (r.note !== null) out.push(`  note: ${r.agents} agents: ${r.note}`)
  out.push(...startSkewVerdicts(s))
  return out
}

/** The suite's section of docs/benchmarks.md (heading number given by the caller). */
export function meshSection(s: MeshSuite, n: number): string[] {
  const out = [
    `## ${n}. ${s.title}`,
    '',
    'What it measures: the mesh itself, not the load. N `loadmesh agent` processes on 127.0.0.1, each its own',
    `process as users run them (default ${s.heartbeat_ms / 1000} s heartbeat), all started together and seeded with the first two; a`,
    'simulator as the target, and a controller peer in its own process. Processes are not pinned: N agents share both cores.',
    '',
    '- **convergence**: from the last agent process being up (listening) until every agent has logged every other agent as',
    '  joined (its first heartbeat heard).',
    `- **start skew**: the controller publishes a plan ${s.start_in_ms / 1000} s ahead, ${s.rate_per_agent} req/s per agent for ${s.stage_ms / 1000} s, constant arrivals (each`,
    '  agent\'s first request is due exactly at T0). Each agent reports when its first request left, after T0 on its own clock',
    '  (`loadmesh_run_first_send_after_t0_ms`); the controller subtracts the agent\'s clock offset from its own (direct',
    '  clock probes, NTP-style, the sample with the shortest round trip), so it is the distance from T0 on one clock. Shown:',
    '  |skew| over every agent and repetition; "own clock" is the same without the correction. The goal is judged on the',
    '  own-clock p99: here every agent reads one clock, and the correction only adds the probes\' error (the "max |offset|"',
    `  column, all of it error on one host); across hosts only the corrected figure exists. ${SKEW_REPETITIONS_16} repetitions at 16 agents, so`,
    `  that p99 is one of ${SKEW_REPETITIONS_16 * 16} samples, not their maximum.`,
    `- **bare skew** (baseline): right after the agents stop, N bare Node processes (no libp2p, no agent) meet one shared T0`,
    `  ${BARE_REPETITIONS} times the way agents do (a timer to 2 ms before it, then a blocking futex wait), each writing one pre-built`,
    '  request to the same simulator; when the write left, after T0 on the host\'s monotonic clock. It is what this host allows',
    '  N processes that start at one instant and have nothing else to do.',
    '- **reconcile**: the controller\'s `reconcile(run)` of all N agents (one request per agent and peer, in parallel) after each run.',
    '- **gossip**: payload bytes received + published per agent per second (`loadmesh_gossip_bytes_*_total`), idle (heartbeats',
    '  only) and from publishing a plan to the run\'s end (plus commands and results deltas). Relayed copies, gossipsub',
    '  control messages and libp2p framing are not counted.',
    '- **CPU/agent**: CPU seconds (user + system, from /proc) per agent process per second, averaged over the agents: idle',
    '  over the same window as idle gossip, and running over the same span as running gossip. With 2 cores, N agents at',
    '  c each leave 2 − N·c for everything else (the controller, the simulator, bursts at T0).',
    '',
    ...(s.status === 'ok' ? [] : [`**Suite ${s.status}**${s.note === null ? '.' : `: ${s.note}`}`, ''])
  ]
  if (s.rows.length > 0) {
    out.push(mdTable(HEADER, s.rows.map(cells)), '')
    const notes = s.rows.filter((r) => r.note !== null).map((r) => `- ${r.agents} agents: ${r.note}`)
    if (notes.length > 0) out.push(...notes, '')
  }
  for (const g of s.goals) out.push(`**Goal:** ${g.description}. **${fmtGoal(g.met)}**.`)
  const verdicts = startSkewVerdicts(s)
  if (verdicts.length > 0) out.push('', ...verdicts.map((v) => `- ${v}.`))
  return out
}
