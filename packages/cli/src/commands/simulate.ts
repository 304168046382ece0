import { readFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { parseDurationSpec } from '@loadmesh/workload'
import { createSimulator, parseFaultConfig } from '@loadmesh/simulator'
import type { FixedEngineConfig, ProfileEngineConfig } from '@loadmesh/simulator'
import { listProfiles, loadProfile } from '@loadmesh/sim-engine'
import type { Profile, Routing } from '@loadmesh/sim-engine'
import { UsageError } from '../exit-codes.ts'
import type { FlagValues } from '../plan-file.ts'
import { SIMULATE_FLAGS, formatFlags } from '../options.ts'
import type { Io } from '../io.ts'
import { parseFlags } from './flags.ts'
import { SIM_MODEL } from './rehearse.ts'
import { simulateVirtualCommand } from './simulate-virtual.ts'


export const SIMULATE_HELP = `loadmesh simulate [flags]

Serves the LLM simulator standalone: an OpenAI-compatible server (chat/completions, completions,
embeddings, moderations, /v1/models, /health, /metrics, /admin/faults) with the fixed latency model
or a step-engine profile, and faults on demand (docs/simulator.md). Runs until interrupted.
With --virtual, runs a workload against the engine in virtual time instead (simulate --virtual --help).

${formatFlags(SIMULATE_FLAGS)}`

export async function simulateCommand (argv: string[], io: Io): Promise<number> {
  // --virtual: no server; a workload runs against the step engine in virtual time (simulate-virtual.ts).
  if (argv.includes('--virtual')) return simulateVirtualCommand(argv, io)
  const v = await parseFlags(argv, SIMULATE_FLAGS)
  if (v.help === true) { io.stdout.write(SIMULATE_HELP + '\n'); return 0 }
  const port = Number((v.port as string | undefined) ?? '8000')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: "${String(v.port)}" is not a port number`)
  const setup = await simulatorSetupFromFlags(v)
  const sim = createSimulator({
    host: (v.host as string | undefined) ?? '127.0.0.1',
    port,
    seed: (v.seed as string | undefined) ?? 1,
    models: [(v.model as string | undefined) ?? SIM_MODEL],
    engine: setup.engine,
    faults: setup.faults,
    tokensPerChunk: setup.tokensPerChunk
  })
  const { url } = await sim.start()
  io.stderr.write(`loadmesh simulator listening on ${url} (${setup.label}; Ctrl-C to stop)\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => { io.offInterrupt(stop); process.off('disconnect', stop); resolve() }
    io.onInterrupt(stop)
    // Started by `rehearse` with an IPC channel: stop when the parent goes away.
    if (process.send !== undefined) process.on('disconnect', stop)
  })
  await sim.stop()
  return 0
}

export interface SimulatorSetup {
  engine: FixedEngineConfig | ProfileEngineConfig
  /** Parsed fault configuration (file form), or undefined. */
  faults: unknown
  /** --tokens-per-chunk (default 1). */
  tokensPerChunk: number
  /** One line for people: the engine and how many faults. */
  label: string
}

/**
 * The engine and faults that --profile, --replicas, --routing, --max-waiting, --sim-ttft, --sim-itl
 * and --faults ask for, validated. `rehearse` calls it too, before it starts anything.
 */
export async function simulatorSetupFromFlags (v: FlagValues): Promise<SimulatorSetup> {
  const ttft = (v['sim-ttft'] as string | undefined) ?? '100ms'
  const itl = (v['sim-itl'] as string | undefined) ?? '10ms'
  const profileName = (v.profile as string | undefined) ?? 'fixed'
  let profile: Profile
  try {
    profile = loadProfile(profileName)
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.code === 'ERR_BAD_PROFILE') throw new UsageError(`--profile: ${e.message}`, `presets: ${listProfiles().join(', ')}; the file format is in docs/simulator-profiles.md`)
    throw err
  }
  const faults = v.faults === undefined ? undefined : await readFaults(v.faults as string)
  const tokensPerChunk = positiveIntFlag(v, 'tokens-per-chunk') ?? 1
  const nFaults = faults === undefined ? 0 : parseFaultConfig(faults, '--faults').length
  const faultLabel = nFaults === 0 ? '' : `, ${nFaults} fault${nFaults === 1 ? '' : 's'}`
  if (profile.engine === 'fixed') {
    for (const f of ['replicas', 'routing', 'max-waiting', 'prefix-caching']) {
      if (v[f] !== undefined) throw new UsageError(`--${f}: the fixed engine has one replica and no queue`, `use a step profile, e.g. --profile ${listProfiles().filter((p) => p !== 'fixed')[0]}`)
    }
    checkFaultReplicas(faults, 1)
    return {
      engine: { ttft: parseDurationSpec(ttft, '--sim-ttft'), itl: parseDurationSpec(itl, '--sim-itl') },
      faults,
      tokensPerChunk,
      label: `fixed engine, ttft ${ttft}, itl ${itl}${faultLabel}`
    }
  }
  for (const f of ['sim-ttft', 'sim-itl']) {
    if (v[f] !== undefined) throw new UsageError(`--${f}: only the fixed engine takes it; profile "${profile.name}" works latencies out from its model and hardware`)
  }
  const int = (name: string): number | undefined => positiveIntFlag(v, name)
  const replicas = int('replicas') ?? 1
  const routing = (v.routing as string | undefined) ?? 'round-robin'
  if (routing !== 'round-robin' && routing !== 'least-loaded') throw new UsageError(`--routing: "${routing}" is not round-robin or least-loaded`)
  const maxWaiting = int('max-waiting')
  checkFaultReplicas(faults, replicas)
  if (v['prefix-caching'] === true) profile = { ...profile, scheduler: { ...profile.scheduler, prefix_caching: true } }
  return {
    engine: { kind: 'profile', profile, replicas, routing: routing as Routing, ...(maxWaiting === undefined ? {} : { maxWaiting }) },
    faults,
    tokensPerChunk,
    label: `profile ${profile.name}, ${replicas} replica${replicas === 1 ? '' : 's'}${maxWaiting === undefined ? '' : `, max ${maxWaiting} waiting`}${profile.scheduler.prefix_caching ? ', prefix cache' : ''}${faultLabel}`
  }
}

function positiveIntFlag (v: FlagValues, name: string): number | undefined {
  const t = v[name]
  if (t === undefined) return undefined
  const n = Number(t)
  if (typeof t !== 'string' || t.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--${name}: "${String(t)}" is not a positive integer`)
  return n
}

function checkFaultReplicas (faults: unknown, replicas: number): void {
  if (faults === undefined) return
  for (const f of parseFaultConfig(faults, '--faults')) {
    if ((f.kind === 'crash' || f.kind === 'stall') && f.replica !== undefined && f.replica >= replicas) {
      throw new UsageError(`--faults: ${f.kind} names replica ${f.replica}, but there ${replicas === 1 ? 'is 1 replica' : `are ${replicas} replicas`} (0..${replicas - 1})`)
    }
  }
}

/** --faults: a YAML or JSON file, or inline JSON (what rehearse passes on from a plan). */
async function readFaults (value: string): Promise<unknown> {
  const inline = /^\s*[[{]/.test(value)
  const source = inline ? '--faults' : value
  let text = value
  if (!inline) {
    try {
      text = await readFile(value, 'utf8')
    } catch (err) {
      throw new UsageError(`--faults: cannot read "${value}": ${(err as Error).message}`)
    }
  }
  const doc = parseDocument(text, { prettyErrors: false })
  if (doc.errors.length > 0) throw new UsageError(`${source}: not valid YAML or JSON: ${doc.errors[0].message.split('\n')[0]}`)
  const raw: unknown = doc.toJS()
  try {
    parseFaultConfig(raw, source)
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.code === 'ERR_BAD_FAULT_CONFIG') throw new UsageError(e.message, 'the fault file format is in docs/simulator.md')
    throw err
  }
  return raw
}
