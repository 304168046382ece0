import { parseDurationSpec } from '@loadmesh/workload'
import { startSimulatorProcess } from '../sim-process.ts'
import { RUN_FLAGS, REHEARSE_FLAGS, COMMON_FLAGS, formatFlags } from '../options.ts'
import { runConfigFromFlags } from '../run-config-from-flags.ts'
import type { Io } from '../io.ts'
import { parseFlags } from './flags.ts'
import { executeRun } from './execute-run.ts'

export const REHEARSE_HELP = `loadmesh rehearse [flags]

A fully simulated rehearsal: starts the LLM simulator (in its own process, on a free loopback port)
and one agent against it, with the same flags as \`loadmesh run\` (--target is the simulator).

${formatFlags([...REHEARSE_FLAGS, ...RUN_FLAGS.filter((f) => f.name !== 'target' && f.name !== 'api-key'), ...COMMON_FLAGS])}`

export const SIM_MODEL = 'loadmesh-sim'

export async function rehearseCommand (argv: string[], io: Io): Promise<number> {
  const flags = [...REHEARSE_FLAGS, ...RUN_FLAGS.filter((f) => f.name !== 'target' && f.name !== 'api-key'), ...COMMON_FLAGS]
  const v = await parseFlags(argv, flags)
  if (v.help === true) { io.stdout.write(REHEARSE_HELP + '\n'); return 0 }
  const model = (v.model as string | undefined) ?? SIM_MODEL
  const ttft = (v['sim-ttft'] as string | undefined) ?? '100ms'
  const itl = (v['sim-itl'] as string | undefined) ?? '10ms'
  // Validate every flag before starting anything.
  parseDurationSpec(ttft, '--sim-ttft')
  parseDurationSpec(itl, '--sim-itl')
  runConfigFromFlags(v, 'http://127.0.0.1:1', model)
  const sim = await startSimulatorProcess(['--model', model, '--seed', (v.seed as string | undefined) ?? '1', '--sim-ttft', ttft, '--sim-itl', itl])
  const url = sim.url
  try {
    const config = runConfigFromFlags(v, url, model)
    if (!v.quiet) io.stderr.write(`simulator on ${url} (ttft ${v['sim-ttft'] ?? '100ms'}, itl ${v['sim-itl'] ?? '10ms'}); rehearsal ${config.mode === 'open' ? `at ${config.rate} req/s` : `at concurrency ${config.concurrency}`} for ${config.duration_ms / 1000}s, seed ${config.seed}\n`)
    return await executeRun({ config, out: v.out as string | undefined, quiet: v.quiet === true, json: v.json === true, io })
  } finally {
    await sim.stop()
  }
}
