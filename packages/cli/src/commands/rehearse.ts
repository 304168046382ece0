import { startSimulatorProcess } from '../sim-process.ts'
import { RUN_FLAGS, REHEARSE_FLAGS, SIM_ENGINE_FLAGS, COMMON_FLAGS, formatFlags } from '../options.ts'
import { runConfigFromFlags } from '../run-config-from-flags.ts'
import type { Io } from '../io.ts'
import { parseFlags } from './flags.ts'
import { executeRun } from './execute-run.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UsageError } from '../exit-codes.ts'
import type { FlagDoc } from '../options.ts'
import type { RunConfig } from '@loadmesh/agent'
import { startAgentProcess } from '../mesh/agent-processes.ts'
import type { AgentProcess } from '../mesh/agent-processes.ts'
import { connectMesh, waitForAgents } from '../mesh/mesh-connect.ts'
import { runOnMesh } from '../mesh/run-on-mesh.ts'
import { simulatorSetupFromFlags } from './simulate.ts'

const AGENTS_FLAG: FlagDoc = { name: 'agents', type: 'string', arg: 'N', help: 'N ≥ 2: a local mesh of N agent processes and a controller (default: one in-process agent)' }

export const REHEARSE_HELP = `loadmesh rehearse [flags]

A fully simulated rehearsal: starts the LLM simulator (in its own process, on a free loopback port)
and one agent against it, with the same flags as \`loadmesh run\` (--target is the simulator).
A plan may set the simulator in a \`simulator:\` section (profile, replicas, faults, ...; docs/simulator.md).

${formatFlags([AGENTS_FLAG, ...REHEARSE_FLAGS, ...SIM_ENGINE_FLAGS, ...RUN_FLAGS.filter((f) => f.name !== 'target' && f.name !== 'api-key'), ...COMMON_FLAGS])}`

export const SIM_MODEL = 'loadmesh-sim'

export async function rehearseCommand (argv: string[], io: Io): Promise<number> {
  const flags = [AGENTS_FLAG, ...REHEARSE_FLAGS, ...SIM_ENGINE_FLAGS, ...RUN_FLAGS.filter((f) => f.name !== 'target' && f.name !== 'api-key'), ...COMMON_FLAGS]
  const v = await parseFlags(argv, flags)
  if (v.help === true) { io.stdout.write(REHEARSE_HELP + '\n'); return 0 }
  const model = (v.model as string | undefined) ?? SIM_MODEL
  // Validate every flag before starting anything.
  const setup = await simulatorSetupFromFlags(v)
  runConfigFromFlags(v, 'http://127.0.0.1:1', model)
  let agents = 0
  if (v.agents !== undefined) {
    agents = Number(v.agents)
    if (!Number.isInteger(agents) || agents < 2 || agents > 64) throw new UsageError(`--agents: "${String(v.agents)}" must be an integer from 2 to 64`, 'leave --agents out for a single in-process agent')
  }
  // The simulator process gets the same settings as flags (faults from a plan come as inline JSON).
  const simArgs = ['--model', model, '--seed', (v.seed as string | undefined) ?? '1']
  for (const f of [...REHEARSE_FLAGS, ...SIM_ENGINE_FLAGS]) {
    const value = v[f.name]
    if (typeof value === 'string') simArgs.push(`--${f.name}`, value)
    else if (value === true) simArgs.push(`--${f.name}`)
  }
  const sim = await startSimulatorProcess(simArgs)
  const url = sim.url
  try {
    const config = runConfigFromFlags(v, url, model)
    if (!v.quiet) io.stderr.write(`simulator on ${url} (${setup.label}); rehearsal ${config.mode === 'open' ? `at ${config.rate} req/s` : `at concurrency ${config.concurrency}`} for ${config.duration_ms / 1000}s, seed ${config.seed}\n`)
    if (agents > 0) return await rehearseMesh(agents, config, v.out as string | undefined, v.quiet === true, v.json === true, io)
    return await executeRun({ config, out: v.out as string | undefined, quiet: v.quiet === true, json: v.json === true, io })
  } finally {
    await sim.stop()
  }
}

/**
 * A local mesh: N agents as separate processes (each its own identity, one generated swarm key,
 * fast membership timing), seeded to the first, and this process as the controller.
 */
async function rehearseMesh (n: number, config: RunConfig, out: string | undefined, quiet: boolean, json: boolean, io: Io): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-rehearse-'))
  const procs: AgentProcess[] = []
  let controlling = false
  // Ctrl-C before the controller is up takes the agents down; after that, the controller stops the
  // run and reports, and the agents are stopped below.
  const stopAll = (): void => { if (!controlling) for (const p of procs) void p.stop() }
  io.onInterrupt(stopAll)
  try {
    const mesh = await import('@loadmesh/mesh')
    const keyFile = join(dir, 'swarm.key')
    await mesh.writeSwarmKey(keyFile, mesh.generateSwarmKey())
    const timing = ['--heartbeat', '250ms', '--dead-after', '2s']
    const common = (i: number): string[] => ['--listen', '/ip4/127.0.0.1/tcp/0', '--swarm-key', keyFile, '--identity', join(dir, `agent-${i}.key`), '--mesh', 'rehearsal', ...timing]
    procs.push(await startAgentProcess(common(0)))
    const seed = procs[0].seed
    procs.push(...await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await startAgentProcess([...common(i + 1), '--seeds', seed]))))
    if (!quiet) io.stderr.write(`${n} agents up (seed ${seed})\n`)
    const session = await connectMesh({ seeds: seed, 'swarm-key': keyFile, identity: join(dir, 'controller.key'), mesh: 'rehearsal', listen: '/ip4/127.0.0.1/tcp/0', heartbeat: '250ms', 'dead-after': '2s' }, { role: 'controller' })
    try {
      await waitForAgents(session, n, 30_000)
      controlling = true
      return await runOnMesh(session, { config, out, quiet, json, io, startInMs: 2000 })
    } finally {
      await session.close()
    }
  } finally {
    io.offInterrupt(stopAll)
    await Promise.all(procs.map(async (p) => await p.stop()))
    await rm(dir, { recursive: true, force: true })
  }
}
