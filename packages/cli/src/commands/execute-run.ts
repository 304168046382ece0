import { writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { systemClock } from '@loadmesh/clock'
import { runLocal } from '@loadmesh/agent'
import type { LoadedWorkload, RunConfig } from '@loadmesh/agent'
import { renderSummary, evaluateGates } from '@loadmesh/report'
import type { Report } from '@loadmesh/report'
import { EXIT } from '../exit-codes.ts'
import { createLivePanel } from '../live-panel.ts'
import type { Io } from '../io.ts'

export interface ExecuteOptions {
  config: RunConfig
  /** The config's log or model, already read (runSetupFromFlags); read again when absent. */
  workload?: LoadedWorkload
  apiKey?: string
  out?: string
  quiet: boolean
  json: boolean
  io: Io
}

/**
 * Runs one local agent with the live panel, writes the report, prints the summary and maps the
 * gates to an exit code. Ctrl-C stops scheduling; what was measured is still reported.
 */
export async function executeRun (o: ExecuteOptions): Promise<number> {
  const panel = createLivePanel(o.io.stderr, { quiet: o.quiet })
  const ac = new AbortController()
  const onSigint = (): void => {
    if (ac.signal.aborted) {
      o.io.stderr.write('\ninterrupted again: quitting without a report\n')
      o.io.exitNow(EXIT.INTERRUPTED)
      return
    }
    o.io.stderr.write('\nstopping: no new requests; waiting for the ones in flight (Ctrl-C again to quit now)\n')
    ac.abort()
  }
  o.io.onInterrupt(onSigint)
  let report: Report
  try {
    report = await runLocal(o.config, {
      clock: systemClock(),
      apiKey: o.apiKey,
      ...(o.workload !== undefined ? { workload: o.workload } : {}),
      onProgress: (p) => panel.update(p),
      signal: ac.signal
    })
  } finally {
    panel.close()
    o.io.offInterrupt(onSigint)
  }
  if (o.out !== undefined) {
    await mkdir(dirname(o.out), { recursive: true })
    await writeFile(o.out, JSON.stringify(report, null, 2) + '\n')
  }
  const gates = evaluateGates(report, { maxErrorRate: o.config.max_error_rate, failOnSlo: o.config.fail_on_slo })
  if (o.json) {
    o.io.stdout.write(JSON.stringify(report, null, 2) + '\n')
  } else {
    o.io.stdout.write(renderSummary(report) + '\n')
    for (const g of gates.messages) o.io.stdout.write(g + '\n')
    if (o.out !== undefined) o.io.stdout.write(`report written to ${o.out}\n`)
  }
  if (ac.signal.aborted) return EXIT.INTERRUPTED
  if (!gates.errorRateOk) return EXIT.ERROR_RATE
  if (!gates.sloOk) return EXIT.SLO
  return EXIT.OK
}
