import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseDuration } from '@loadmesh/clock'
import { MeshUnavailableError, UsageError } from '../exit-codes.ts'
import { formatFlags } from '../options.ts'
import type { FlagDoc } from '../options.ts'
import type { Io } from '../io.ts'
import { CONTROL_FLAGS, MESH_FLAGS } from '../mesh/mesh-flags.ts'
import { connectMesh, settle } from '../mesh/mesh-connect.ts'
import type { MeshSession } from '../mesh/mesh-connect.ts'
import { renderMembers, renderMeshSummary } from '../mesh/mesh-summary.ts'
import type { FlagValues } from '../plan-file.ts'
import { parseFlags } from './flags.ts'

const HELP_FLAG: FlagDoc = { name: 'help', type: 'boolean', short: 'h', help: 'show help' }
const WAIT = CONTROL_FLAGS.filter((f) => f.name === 'wait')
const STATUS_FLAGS: FlagDoc[] = [...MESH_FLAGS, ...WAIT, { name: 'json', type: 'boolean', help: 'print the members as JSON on stdout' }, HELP_FLAG]
const STOP_FLAGS: FlagDoc[] = [...MESH_FLAGS, ...WAIT, { name: 'run', type: 'string', arg: 'ID', help: 'the run to stop (default: the one the agents are running)' }, HELP_FLAG]
const RESULTS_FLAGS: FlagDoc[] = [
  ...MESH_FLAGS, ...WAIT,
  { name: 'run', type: 'string', arg: 'ID', help: 'the run to reconcile (required)' },
  { name: 'out', type: 'string', arg: 'FILE', help: 'write the mesh report JSON to FILE' },
  { name: 'json', type: 'boolean', help: 'print the JSON report on stdout instead of the summary' },
  HELP_FLAG
]

export const STATUS_HELP = `loadmesh status --seeds LIST [flags]\n\nJoins the mesh briefly and prints every member: role, state, run, rate, in flight, errors, loop delay.\n\n${formatFlags(STATUS_FLAGS)}`
export const STOP_HELP = `loadmesh stop --seeds LIST [--run ID] [flags]\n\nStops a run on every agent (in-flight requests finish and are reported).\n\n${formatFlags(STOP_FLAGS)}`
export const RESULTS_HELP = `loadmesh results --run ID --seeds LIST [flags]\n\nReconciles a run's results through the peers it reaches and prints (or writes) the mesh report.\n\n${formatFlags(RESULTS_FLAGS)}`

async function withMesh<T> (v: FlagValues, fn: (s: MeshSession) => Promise<T>): Promise<T> {
  if (v.seeds === undefined) throw new UsageError('--seeds is required', 'e.g. --seeds agent-0:4001')
  const waitMs = parseDuration((v.wait as string | undefined) ?? '30s', '--wait')
  const s = await connectMesh(v, { role: 'controller' })
  try {
    await settle(s, waitMs)
    return await fn(s)
  } finally {
    await s.close()
  }
}

export async function statusCommand (argv: string[], io: Io): Promise<number> {
  const v = await parseFlags(argv, STATUS_FLAGS)
  if (v.help === true) { io.stdout.write(STATUS_HELP + '\n'); return 0 }
  return withMesh(v, async (s) => {
    const members = s.agent.status().filter((m) => !m.self)
    if (v.json === true) io.stdout.write(JSON.stringify({ mesh: s.meshName, members }, null, 2) + '\n')
    else io.stdout.write(`mesh "${s.meshName}": ${members.length} member(s)\n${renderMembers(members).join('\n')}\n`)
    return 0
  })
}

/** The run most live agents report running. */
function currentRunId (s: MeshSession): string | null {
  const counts = new Map<string, number>()
  for (const m of s.agent.status()) if (m.role === 'agent' && m.state !== 'dead' && m.run_id !== '') counts.set(m.run_id, (counts.get(m.run_id) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null
}

export async function stopCommand (argv: string[], io: Io): Promise<number> {
  const v = await parseFlags(argv, STOP_FLAGS)
  if (v.help === true) { io.stdout.write(STOP_HELP + '\n'); return 0 }
  return withMesh(v, async (s) => {
    const runId = (v.run as string | undefined) ?? currentRunId(s)
    if (runId === null) throw new MeshUnavailableError('no agent is running anything', 'pass --run ID to stop a specific run')
    await s.agent.stopRun(runId)
    // Gossip is fire-and-forget: give it a heartbeat to leave before the node closes.
    await new Promise((r) => setTimeout(r, 1000))
    io.stderr.write(`stop sent for run ${runId}\n`)
    return 0
  })
}

export async function resultsCommand (argv: string[], io: Io): Promise<number> {
  const v = await parseFlags(argv, RESULTS_FLAGS)
  if (v.help === true) { io.stdout.write(RESULTS_HELP + '\n'); return 0 }
  const runId = v.run as string | undefined
  if (runId === undefined) throw new UsageError('--run ID is required', 'the run id is in the report and the run command\'s output')
  return withMesh(v, async (s) => {
    const report = await s.agent.reconcile(runId, { timeoutMs: 10_000 })
    if (report.reconcile.answered.length === 0) throw new MeshUnavailableError(`no peer answered the reconcile request for run ${runId}: ${report.reconcile.failed.map((f) => f.error).join('; ')}`)
    if (report.agents.length === 0) throw new MeshUnavailableError(`no peer holds results of run ${runId}`)
    const out = v.out as string | undefined
    if (out !== undefined) {
      await mkdir(dirname(out), { recursive: true })
      await writeFile(out, JSON.stringify(report, null, 2) + '\n')
    }
    io.stdout.write(v.json === true ? JSON.stringify(report, null, 2) + '\n' : renderMeshSummary(report) + '\n')
    return 0
  })
}
