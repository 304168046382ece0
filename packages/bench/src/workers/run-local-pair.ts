// The lag clients' shared core: the agent's own runLocal with the CLI's own flag parsing (what
// `loadmesh run` executes), a warm-up run first in the same process (the JIT is warm; runLocal opens
// its own connections), then the measured run.
import { systemClock } from '@loadmesh/clock'
// Relative: the bench does not depend on the agent or the CLI packages (their own imports resolve
// from their own directories).
import { runLocal } from '../../../agent/src/index.ts'
import type { Report } from '../../../report/src/index.ts'
import { runConfigFromFlags } from '../../../cli/src/run-config-from-flags.ts'
import { MODEL } from '../payloads.ts'

export interface RunPairOptions {
  baseUrl: string
  maxInFlight: number
  connections: number
  seed: string
  /** The flags of one run: `warmup` is true for the first. */
  flags(warmup: boolean): Record<string, string | boolean>
  /** Called between the two runs: the measured phase starts. */
  measuring(): void
}

/** Runs the warm-up run, then the measured one, and returns the measured run's report. */
export async function warmThenMeasure(o: RunPairOptions): Promise<Report> {
  const clock = systemClock()
  const config = (warmup: boolean) => runConfigFromFlags({
    ...o.flags(warmup),
    'max-in-flight': String(o.maxInFlight),
    connections: String(o.connections),
    timeout: '10s',
    'max-error-rate': '1',
    seed: warmup ? `${o.seed}-warmup` : o.seed
  }, o.baseUrl, MODEL)
  // A progress consumer that reads the live view, as the CLI's panel does.
  const onProgress = (p: { live: unknown; health: unknown }): void => { void p.live; void p.health }
  await runLocal(config(true), { clock, onProgress })
  o.measuring()
  return await runLocal(config(false), { clock, onProgress })
}
