import { EXIT, UsageError } from './exit-codes.ts'
import type { Io } from './io.ts'
import { runCommand, RUN_HELP } from './commands/run.ts'
import { rehearseCommand } from './commands/rehearse.ts'
import { simulateCommand } from './commands/simulate.ts'
import { keygenCommand } from './commands/keygen.ts'
import { agentCommand } from './commands/agent.ts'
import { resultsCommand, statusCommand, stopCommand } from './commands/mesh-admin.ts'
import { workloadCommand } from './commands/workload.ts'

const HELP = `loadmesh: peer-to-peer load generation for OpenAI-compatible LLM APIs

Usage:
  loadmesh rehearse [flags]          simulated rehearsal: embedded simulator + one agent
  loadmesh run --target URL [flags] one agent against any OpenAI-compatible server
  loadmesh simulate --port P         serve the LLM simulator standalone
  loadmesh workload fit LOG --out M  fit a workload model to a request log
  loadmesh workload sample M -n N    sample requests from a workload model

Mesh commands:
  loadmesh keygen --out FILE         write a swarm key for a private mesh
  loadmesh agent --seeds LIST ...    long-running mesh agent
  loadmesh run --seeds LIST ...      publish a run to the mesh and report on it
  loadmesh status --seeds LIST       members, roles, state and live load
  loadmesh stop --seeds LIST         stop the current run everywhere
  loadmesh results --run ID ...      reconcile a run's results through any peer
  loadmesh rehearse --agents N       simulator + N local agent processes + a controller

Run \`loadmesh <command> --help\` for the flags. Docs: docs/cli.md, docs/metrics.md.`

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  run: runCommand,
  rehearse: rehearseCommand,
  simulate: simulateCommand,
  keygen: keygenCommand,
  agent: agentCommand,
  status: statusCommand,
  stop: stopCommand,
  results: resultsCommand,
  workload: workloadCommand
}

/** Errors whose message is for the user (bad flags, specs, plan files): exit 2, no stack trace. */
const USAGE_CODES = new Set(['ERR_USAGE', 'ERR_BAD_SPEC', 'ERR_BAD_DURATION', 'ERR_BAD_SLO', 'ERR_BAD_RUN_CONFIG', 'ERR_BAD_SWARM_KEY', 'ERR_BAD_IDENTITY', 'ERR_BAD_SEED', 'ERR_MESH_CONFIG', 'ERR_BAD_AGENT_OPTION', 'ERR_BAD_LOG', 'ERR_BAD_MODEL'])

export async function main (argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    io.stdout.write(HELP + '\n')
    return cmd === undefined ? EXIT.USAGE : EXIT.OK
  }
  const command = COMMANDS[cmd]
  if (command === undefined) {
    io.stderr.write(`loadmesh: unknown command "${cmd}"\n\n${HELP}\n`)
    return EXIT.USAGE
  }
  try {
    return await command(rest, io)
  } catch (err) {
    const e = err as Error & { code?: string; hint?: string }
    if (e.code !== undefined && USAGE_CODES.has(e.code)) {
      io.stderr.write(`loadmesh ${cmd}: ${e.message}\n`)
      if (e.hint !== undefined) io.stderr.write(`  hint: ${e.hint}\n`)
      return EXIT.USAGE
    }
    if (e.code === 'ERR_MESH_UNAVAILABLE') {
      io.stderr.write(`loadmesh ${cmd}: ${e.message}\n`)
      if (e.hint !== undefined) io.stderr.write(`  hint: ${e.hint}\n`)
      return EXIT.NO_MESH
    }
    io.stderr.write(`loadmesh ${cmd}: unexpected failure: ${e.stack ?? String(e)}\n`)
    return EXIT.INTERNAL
  }
}

export { RUN_HELP, UsageError }
