import { EXIT, UsageError } from './exit-codes.ts'
import type { Io } from './io.ts'
import { runCommand, RUN_HELP } from './commands/run.ts'
import { rehearseCommand } from './commands/rehearse.ts'
import { simulateCommand } from './commands/simulate.ts'

const HELP = `loadmesh: peer-to-peer load generation for OpenAI-compatible LLM APIs

Usage:
  loadmesh rehearse [flags]          simulated rehearsal: embedded simulator + one agent
  loadmesh run --target URL [flags] one agent against any OpenAI-compatible server
  loadmesh simulate --port P         serve the LLM simulator standalone

Run \`loadmesh <command> --help\` for the flags. Docs: docs/cli.md, docs/metrics.md.`

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  run: runCommand,
  rehearse: rehearseCommand,
  simulate: simulateCommand
}

/** Errors whose message is for the user (bad flags, specs, plan files): exit 2, no stack trace. */
const USAGE_CODES = new Set(['ERR_USAGE', 'ERR_BAD_SPEC', 'ERR_BAD_DURATION', 'ERR_BAD_SLO', 'ERR_BAD_RUN_CONFIG'])

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
    io.stderr.write(`loadmesh ${cmd}: unexpected failure: ${e.stack ?? String(e)}\n`)
    return EXIT.INTERNAL
  }
}

export { RUN_HELP, UsageError }
