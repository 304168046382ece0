import { writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { evaluateGates, renderSummary } from '@loadmesh/report'
import { listProfiles, loadProfile, runVirtual } from '@loadmesh/sim-engine'
import type { Profile, Routing, VirtualRunResult } from '@loadmesh/sim-engine'
import { EXIT, UsageError } from '../exit-codes.ts'
import { COMMON_FLAGS, RUN_FLAGS, formatFlags } from '../options.ts'
import type { FlagDoc } from '../options.ts'
import type { Io } from '../io.ts'
import { runConfigFromFlags } from '../run-config-from-flags.ts'
import { parseFlags } from './flags.ts'

/** The run's workload flags a virtual run uses (no target, connections or API key: there is no HTTP). */
const WORKLOAD_FLAG_NAMES = [
  'endpoint', 'duration', 'rate', 'concurrency', 'arrival', 'burstiness', 'input-tokens', 'output-tokens', 'stream', 'seed',
  'slo', 'max-in-flight', 'timeout', 'max-error-rate', 'fail-on-slo', 'out', 'plan'
]

export const VIRTUAL_FLAGS: FlagDoc[] = [
  { name: 'virtual', type: 'boolean', help: 'run the workload against the engine in virtual time (no HTTP, faster than real time)' },
  { name: 'profile', type: 'string', arg: 'NAME|FILE', help: 'engine profile: a preset or a JSON profile file (default h100-llama3.1-8b-fp8)' },
  { name: 'replicas', type: 'string', arg: 'N', help: 'simulated replicas behind the one endpoint (default 1)' },
  { name: 'routing', type: 'string', arg: 'round-robin|least-loaded', help: 'how requests pick a replica (default round-robin)' },
  { name: 'max-waiting', type: 'string', arg: 'N', help: 'per-replica queue limit: requests over it get 503 at once (default none)' },
  { name: 'tokens-per-chunk', type: 'string', arg: 'N', help: 'tokens per streamed chunk (default 1)' },
  ...RUN_FLAGS.filter((f) => WORKLOAD_FLAG_NAMES.includes(f.name)),
  ...COMMON_FLAGS
]

export const SIMULATE_VIRTUAL_HELP = `loadmesh simulate --virtual [--profile P] [--replicas N] [workload flags]

Runs a workload against the simulator's step engine in virtual time: no HTTP, as fast as the CPU
goes, the same report as \`loadmesh run\`. A what-if capacity predictor: how would this profile (and
this many replicas) hold up under this load?
Presets: ${listProfiles().filter((p) => p !== 'fixed').join(', ')}; or a JSON file (docs/simulator-profiles.md).

${formatFlags(VIRTUAL_FLAGS)}

Exit codes: 0 ok, 2 bad usage, 3 error rate over --max-error-rate, 4 SLO gate failed, 130 interrupted.`

export async function simulateVirtualCommand (argv: string[], io: Io): Promise<number> {
  const v = await parseFlags(argv, VIRTUAL_FLAGS)
  if (v.help === true) { io.stdout.write(SIMULATE_VIRTUAL_HELP + '\n'); return 0 }
  const profile = profileFlag((v.profile as string | undefined) ?? 'h100-llama3.1-8b-fp8')
  if (profile.engine !== 'step') {
    throw new UsageError(`--profile: "${profile.name}" is the fixed-latency engine; --virtual needs a step profile`, `e.g. --profile ${listProfiles().filter((p) => p !== 'fixed')[0]}`)
  }
  // The run's own parser, so every workload flag means and validates exactly what it does for `run`.
  const config = runConfigFromFlags(v, 'http://virtual.invalid', profile.model.name)
  const replicas = intFlag(v.replicas, 'replicas', 1)
  const maxWaiting = v['max-waiting'] === undefined ? undefined : intFlag(v['max-waiting'], 'max-waiting', 1)
  const tokensPerChunk = intFlag(v['tokens-per-chunk'], 'tokens-per-chunk', 1)
  const routing = ((v.routing as string | undefined) ?? 'round-robin') as Routing
  if (routing !== 'round-robin' && routing !== 'least-loaded') throw new UsageError(`--routing: "${String(v.routing)}" is not round-robin or least-loaded`)

  const ac = new AbortController()
  const onSigint = (): void => { ac.abort() }
  io.onInterrupt(onSigint)
  let result: VirtualRunResult
  try {
    result = await runVirtual({
      profile,
      replicas,
      routing,
      maxWaiting,
      tokensPerChunk,
      rate: config.mode === 'open' ? (config.rate as number) : undefined,
      concurrency: config.mode === 'closed' ? (config.concurrency as number) : undefined,
      arrival: config.arrival,
      burstiness: config.burstiness,
      inputTokens: config.input_tokens,
      outputTokens: config.output_tokens,
      durationMs: config.duration_ms,
      seed: config.seed,
      slo: config.slo,
      stream: config.stream,
      endpoint: config.endpoint,
      maxInFlight: config.max_in_flight,
      timeoutMs: config.timeout_ms,
      config: { ...config, target: `virtual:${profile.name}` },
      signal: ac.signal
    })
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.code === 'ERR_BAD_VIRTUAL_RUN' || e.code === 'ERR_BAD_ENGINE_CONFIG') throw new UsageError(e.message)
    throw err
  } finally {
    io.offInterrupt(onSigint)
  }
  const report = result.report
  if (v.out !== undefined) {
    await mkdir(dirname(v.out as string), { recursive: true })
    await writeFile(v.out as string, JSON.stringify(report, null, 2) + '\n')
  }
  const gates = evaluateGates(report, { maxErrorRate: config.max_error_rate, failOnSlo: config.fail_on_slo })
  if (v.json === true) {
    io.stdout.write(JSON.stringify(report, null, 2) + '\n')
  } else {
    io.stdout.write(renderSummary(report) + '\n')
    const e = result.engine
    io.stdout.write(`  virtual    ${(result.virtualMs / 1000).toFixed(1)} s simulated in ${(result.wallMs / 1000).toFixed(2)} s of wall time (${result.speedup.toFixed(0)}x real time); ` +
      `profile ${profile.name}, ${replicas} replica${replicas === 1 ? '' : 's'}, ${e.preemptions} preemptions\n`)
    for (const g of gates.messages) io.stdout.write(g + '\n')
    if (v.out !== undefined) io.stdout.write(`report written to ${v.out as string}\n`)
  }
  if (ac.signal.aborted) return EXIT.INTERRUPTED
  if (!gates.errorRateOk) return EXIT.ERROR_RATE
  if (!gates.sloOk) return EXIT.SLO
  return EXIT.OK
}

function profileFlag (nameOrPath: string): Profile {
  try {
    return loadProfile(nameOrPath)
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.code === 'ERR_BAD_PROFILE') throw new UsageError(`--profile: ${e.message}`, `presets: ${listProfiles().join(', ')}; the file format is in docs/simulator-profiles.md`)
    throw err
  }
}

function intFlag (value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (typeof value !== 'string' || value.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--${name}: "${String(value)}" is not a positive integer`)
  return n
}
