// `pnpm bench`: runs the suites, writes the results JSON, prints a table and, for a full run,
// regenerates docs/benchmarks.md. See docs/benchmarks.md for what each suite measures.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { parseBenchArgs, USAGE } from './args.ts'
import type { SuiteName } from './args.ts'
import { BenchError } from './bench-error.ts'
import { renderBenchmarksDoc } from './benchmarks-doc.ts'
import { loadAverage, machineInfo } from './machine-info.ts'
import { DOC_PATH, REPO_DIR, RESULTS_DIR } from './paths.ts'
import { createProcessRegistry } from './processes.ts'
import { failedSuite, RESULTS_SCHEMA, runNoise } from './results.ts'
import type { BenchResults, Suite } from './results.ts'
import type { BenchContext } from './suites/context.ts'
import { errorText } from './suites/context.ts'
import { runReqPerSSuite } from './suites/req-per-s.ts'
import { runScheduleLagSuite } from './suites/schedule-lag.ts'
import { runSseSuite } from './suites/sse.ts'
import { runSimEngineSuite } from './suites/sim-engine.ts'
import { runSimulatorScaleSuite } from './suites/simulator-scale.ts'
import { runMeshSuite } from './suites/mesh.ts'
import { runReplayLagSuite } from './suites/replay-lag.ts'
import { renderTerminalSummary } from './terminal-table.ts'
import { detectTools, INSTALL_HINT, toolVersion } from './tools.ts'

const SUITES: Record<SuiteName, (ctx: BenchContext) => Promise<Suite>> = {
  'req-per-s': runReqPerSSuite,
  sse: runSseSuite,
  'schedule-lag': runScheduleLagSuite,
  'sim-engine': runSimEngineSuite,
  'simulator-scale': runSimulatorScaleSuite,
  mesh: runMeshSuite,
  'replay-lag': runReplayLagSuite
}

let args: ReturnType<typeof parseBenchArgs>
try {
  args = parseBenchArgs(process.argv.slice(2))
} catch (err) {
  process.stderr.write(`${errorText(err)}\n`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}

const log = (line: string): void => { process.stdout.write(`${line}\n`) }
const tools = detectTools()
const cores = availableParallelism()
const warnings: string[] = []
let pinNote: string | null = null
if (tools.taskset === null) pinNote = 'taskset not found (util-linux): processes are not pinned, so "per core" is not per core'
else if (cores < 2) pinNote = `only ${cores} core: client and target share it`
if (pinNote !== null) warnings.push(pinNote)
if (tools.nginx === null) warnings.push(`nginx not found: the req/s suite is skipped and schedule lag uses a Node target (${INSTALL_HINT})`)
if (tools.wrk === null) warnings.push(`wrk not found: the wrk comparison is skipped (${INSTALL_HINT})`)

const registry = createProcessRegistry({ taskset: tools.taskset, cores, setpriv: tools.setpriv })
const tmpDir = mkdtempSync(join(tmpdir(), 'loadmesh-bench-'))
let cleaned = false
function cleanup(): void {
  if (cleaned) return
  cleaned = true
  registry.killAllSync()
  rmSync(tmpDir, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping every bench process\n`)
    cleanup()
    process.exit(130)
  })
}

// The profiler costs CPU, so a profiled run is not a reference run either.
const kind: BenchResults['kind'] = args.quick ? 'quick' : args.partial || args.profile ? 'partial' : 'full'
const profileDir = args.profile ? join(RESULTS_DIR, 'profiles') : null
if (profileDir !== null) mkdirSync(profileDir, { recursive: true })
const ctx: BenchContext = {
  registry,
  tools,
  tmpDir,
  warmupMs: args.quick ? 1000 : 2000,
  durationMs: args.quick ? 3000 : 10_000,
  rounds: args.quick ? 1 : 3,
  seed: 'loadmesh-bench-1',
  profileDir,
  log
}

let autocannonVersion: string | null = null
try {
  const require = createRequire(import.meta.url)
  autocannonVersion = (require('autocannon/package.json') as { version: string }).version
} catch {
  warnings.push('autocannon is not installed: run pnpm install')
}
const machine = machineInfo({
  taskset: tools.taskset !== null && cores >= 2,
  pinNote,
  tools: {
    nginx: tools.nginx === null ? null : toolVersion(tools.nginx, ['-v']),
    wrk: tools.wrk === null ? null : toolVersion(tools.wrk, ['-v']),
    autocannon: autocannonVersion
  }
})

log(`loadmesh bench (${kind}): ${args.suites.join(', ')}; ${machine.cpu_model}, ${cores} cores, node ${process.version}, load ${machine.load_avg_before.join(' ')}`)
for (const w of warnings) log(`warning: ${w}`)

const suites: Suite[] = []
for (const name of args.suites) {
  try {
    suites.push(await SUITES[name](ctx))
  } catch (err) {
    // Suites turn client failures into rows themselves; this is for everything else.
    const message = err instanceof BenchError ? err.message : (err as Error).stack ?? String(err)
    log(`  suite ${name} FAILED: ${message}`)
    suites.push(failedSuite(name, message))
  }
  // Nothing may outlive its suite; a leftover would steal a core from the next one.
  if (registry.live > 0) {
    warnings.push(`${registry.live} process(es) outlived suite ${name} and were stopped`)
    await registry.stopAll()
  }
}

machine.load_avg_after = loadAverage()
const noise = runNoise(suites)
const worst = Math.max(noise.taken_max ?? 0, noise.probe_lost_max ?? 0)
if (worst > 0.05) warnings.push(`the machine was busy: other work took up to ${(worst * 100).toFixed(1)}% of a core (see "other work" per row); rerun when it is quiet for representative numbers`)
const results: BenchResults = {
  schema: RESULTS_SCHEMA,
  kind,
  command: `pnpm bench${process.argv.slice(2).filter((a) => a !== '--').length > 0 ? ` -- ${process.argv.slice(2).filter((a) => a !== '--').join(' ')}` : ''}`,
  machine,
  suites,
  warnings
}

mkdirSync(RESULTS_DIR, { recursive: true })
const out = join(RESULTS_DIR, kind === 'full' ? 'latest.json' : `${kind}.json`)
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
log('')
log(renderTerminalSummary(results))
log('')
log(`results: ${relative(REPO_DIR, out)}`)
if (kind === 'full') {
  writeFileSync(DOC_PATH, renderBenchmarksDoc(results, relative(REPO_DIR, out)))
  log(`doc: ${relative(REPO_DIR, DOC_PATH)} regenerated`)
} else {
  log(`doc: ${relative(REPO_DIR, DOC_PATH)} left alone (only a full run regenerates it)`)
}
await registry.stopAll()
