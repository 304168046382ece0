import { parseDurationSpec } from '@loadmesh/workload'
import { createSimulator } from '@loadmesh/simulator'
import { UsageError } from '../exit-codes.ts'
import { SIMULATE_FLAGS, formatFlags } from '../options.ts'
import type { Io } from '../io.ts'
import { parseFlags } from './flags.ts'
import { SIM_MODEL } from './rehearse.ts'
import { simulateVirtualCommand } from './simulate-virtual.ts'

export const SIMULATE_HELP = `loadmesh simulate [flags]

Serves the LLM simulator standalone: an OpenAI-compatible server (chat/completions, completions,
/v1/models, /health) with a configurable latency model. Runs until interrupted.
With --virtual, runs a workload against the engine in virtual time instead (simulate --virtual --help).

${formatFlags(SIMULATE_FLAGS)}`

export async function simulateCommand (argv: string[], io: Io): Promise<number> {
  // --virtual: no server; a workload runs against the step engine in virtual time (simulate-virtual.ts).
  if (argv.includes('--virtual')) return simulateVirtualCommand(argv, io)
  const v = await parseFlags(argv, SIMULATE_FLAGS)
  if (v.help === true) { io.stdout.write(SIMULATE_HELP + '\n'); return 0 }
  const port = Number((v.port as string | undefined) ?? '8000')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: "${String(v.port)}" is not a port number`)
  const sim = createSimulator({
    host: (v.host as string | undefined) ?? '127.0.0.1',
    port,
    seed: (v.seed as string | undefined) ?? 1,
    models: [(v.model as string | undefined) ?? SIM_MODEL],
    engine: {
      ttft: parseDurationSpec((v['sim-ttft'] as string | undefined) ?? '100ms', '--sim-ttft'),
      itl: parseDurationSpec((v['sim-itl'] as string | undefined) ?? '10ms', '--sim-itl')
    }
  })
  const { url } = await sim.start()
  io.stderr.write(`loadmesh simulator listening on ${url} (Ctrl-C to stop)\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => { io.offInterrupt(stop); process.off('disconnect', stop); resolve() }
    io.onInterrupt(stop)
    // Started by `rehearse` with an IPC channel: stop when the parent goes away.
    if (process.send !== undefined) process.on('disconnect', stop)
  })
  await sim.stop()
  return 0
}
