import { UsageError } from '../exit-codes.ts'
import { RUN_FLAGS, COMMON_FLAGS, formatFlags } from '../options.ts'
import { runSetupFromFlags } from '../run-config-from-flags.ts'
import type { Io } from '../io.ts'
import { parseFlags } from './flags.ts'
import { executeRun } from './execute-run.ts'
import { CONTROL_FLAGS, MESH_FLAGS } from '../mesh/mesh-flags.ts'
import { connectMesh, intFlag, waitForAgents } from '../mesh/mesh-connect.ts'
import { runOnMesh } from '../mesh/run-on-mesh.ts'
import { parseDuration } from '@loadmesh/clock'

export const RUN_HELP = `loadmesh run --target URL [flags]

Runs one agent against any OpenAI-compatible server and writes a report.

${formatFlags([...RUN_FLAGS, ...COMMON_FLAGS])}

With --seeds, joins the mesh as a controller instead: waits for --min-agents agents, publishes the
plan (the agents split --rate or --concurrency by weight), shows mesh-wide progress and writes
the reconciled mesh report. Ctrl-C stops the run on every agent.

${formatFlags([...MESH_FLAGS, ...CONTROL_FLAGS])}

Exit codes: 0 ok, 2 bad usage, 3 error rate over --max-error-rate, 4 SLO gate failed, 5 mesh unavailable, 130 interrupted.`

export async function runCommand (argv: string[], io: Io): Promise<number> {
  const v = await parseFlags(argv, [...RUN_FLAGS, ...COMMON_FLAGS, ...MESH_FLAGS, ...CONTROL_FLAGS])
  if (v.help === true) { io.stdout.write(RUN_HELP + '\n'); return 0 }
  if (v.seeds === undefined) {
    const meshOnly = [...MESH_FLAGS, ...CONTROL_FLAGS].map((f) => f.name).filter((n) => n !== 'seeds' && v[n] !== undefined)
    if (meshOnly.length > 0) throw new UsageError(`--${meshOnly[0]} only applies with --seeds (a mesh run)`, 'add --seeds to run on a mesh, or drop the mesh flags for a local run')
  }
  const target = v.target as string | undefined
  if (target === undefined) throw new UsageError('--target is required', 'e.g. loadmesh run --target http://127.0.0.1:8000 --rate 5, or try `loadmesh rehearse` for a simulated run')
  const apiKey = (v['api-key'] as string | undefined) ?? io.env.OPENAI_API_KEY
  const model = (v.model as string | undefined) ?? await discoverModel(target, apiKey)
  const { config, workload } = runSetupFromFlags(v, target.replace(/\/+$/, ''), model)
  if (v.seeds !== undefined) {
    const minAgents = intFlag(v, 'min-agents', 1)
    const waitMs = parseDuration((v.wait as string | undefined) ?? '30s', '--wait')
    // The plan carries no secret: each agent uses its own --api-key.
    const session = await connectMesh(v, { role: 'controller' })
    try {
      await waitForAgents(session, minAgents, waitMs)
      return await runOnMesh(session, { config, out: v.out as string | undefined, quiet: v.quiet === true, json: v.json === true, io })
    } finally {
      await session.close()
    }
  }
  return executeRun({ config, workload, apiKey, out: v.out as string | undefined, quiet: v.quiet === true, json: v.json === true, io })
}

/** Without --model, ask the server (GET /v1/models) like most OpenAI clients' users expect. */
async function discoverModel (target: string, apiKey: string | undefined): Promise<string> {
  const url = `${target.replace(/\/+$/, '')}/v1/models`
  let body: unknown
  try {
    const res = await fetch(url, { headers: apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {}, signal: AbortSignal.timeout(10_000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    body = await res.json()
  } catch (err) {
    throw new UsageError(`--model not given and GET ${url} failed: ${(err as Error).message}`, 'pass --model NAME')
  }
  const first = (body as { data?: Array<{ id?: unknown }> }).data?.[0]?.id
  if (typeof first !== 'string') throw new UsageError(`--model not given and GET ${url} listed no model`, 'pass --model NAME')
  return first
}
