import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { MeshReport, RunConfig } from '@loadmesh/agent'
import { evaluateGates } from '@loadmesh/report'
import type { Report } from '@loadmesh/report'
import { EXIT } from '../exit-codes.ts'
import type { Io } from '../io.ts'
import type { MeshSession } from './mesh-connect.ts'
import { renderMembers, renderMeshSummary } from './mesh-summary.ts'

export interface RunOnMeshOptions {
  config: RunConfig
  out?: string
  quiet: boolean
  json: boolean
  io: Io
  /** T0 this far ahead (the plan must reach every agent first). Default 3000 ms. */
  startInMs?: number
}

/**
 * Publishes the plan as a controller, shows mesh-wide progress from heartbeats, then reconciles
 * and reports. Ctrl-C stops the run everywhere; the report is still built from what was measured.
 */
export async function runOnMesh (s: MeshSession, o: RunOnMeshOptions): Promise<number> {
  const { agent } = s
  const io = o.io
  let interrupted = false
  let runId = ''
  const onSigint = (): void => {
    if (interrupted) {
      io.stderr.write('\ninterrupted again: quitting without a report\n')
      io.exitNow(EXIT.INTERRUPTED)
      return
    }
    interrupted = true
    io.stderr.write('\nstopping the run on every agent (Ctrl-C again to quit now)\n')
    if (runId !== '') agent.stopRun(runId).catch((err: unknown) => io.stderr.write(`stop failed: ${(err as Error).message}\n`))
  }
  io.onInterrupt(onSigint)
  try {
    const plan = await agent.publishPlan(o.config, { startInMs: o.startInMs ?? 3000 })
    runId = plan.run_id
    if (interrupted) await agent.stopRun(runId)
    const agents = agent.membership().live().filter((m) => m.role === 'agent').length
    if (!o.quiet) io.stderr.write(`run ${runId} published to ${agents} agent(s): ${o.config.mode === 'open' ? `${o.config.rate} req/s` : `concurrency ${o.config.concurrency}`} for ${o.config.duration_ms / 1000}s, target ${o.config.target}\n`)
    const tty = io.stderr.isTTY === true
    let drawn = 0
    let nextLine = 0
    const panel = setInterval(() => {
      if (o.quiet) return
      const cur = agent.plans().current()
      const elapsed = cur === null ? 0 : Math.max(0, cur.elapsed_ms)
      const members = agent.status().filter((m) => m.role === 'agent')
      const head = `run ${runId.slice(0, 8)}  ${(Math.min(elapsed, o.config.duration_ms) / 1000).toFixed(0)}s / ${o.config.duration_ms / 1000}s  ${cur?.state ?? ''}`
      const lines = [head, ...renderMembers(members)]
      if (tty) {
        io.stderr.write((drawn > 0 ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''))
        drawn = lines.length
      } else if (elapsed >= nextLine) {
        nextLine = elapsed + 5000
        io.stderr.write(`${head} |${lines[lines.length - 1].replace(/^\s+total:/, '')}\n`)
      }
    }, 1000)
    try {
      await agent.waitForRun(runId, { timeoutMs: (o.startInMs ?? 3000) + o.config.duration_ms + o.config.timeout_ms + 30_000 })
    } catch (err) {
      io.stderr.write(`waiting for the run to end: ${(err as Error).message}; reporting what arrived\n`)
    } finally {
      clearInterval(panel)
      if (tty && drawn > 0) io.stderr.write(`\x1b[${drawn}A\x1b[J`)
    }
    let report: MeshReport = await agent.reconcile(runId, { timeoutMs: 10_000 })
    // An agent files its last (drain) window into its store at its next heartbeat, which can be
    // just after waitForRun saw the others': ask again for a few heartbeats while windows are missing.
    for (let i = 0; i < 3 && !report.coverage.complete; i++) {
      await new Promise((r) => setTimeout(r, 500))
      report = await agent.reconcile(runId, { timeoutMs: 10_000 })
    }
    if (o.out !== undefined) {
      await mkdir(dirname(o.out), { recursive: true })
      await writeFile(o.out, JSON.stringify(report, null, 2) + '\n')
    }
    const gates = meshGates(report, o.config)
    if (o.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n')
    else {
      io.stdout.write(renderMeshSummary(report) + '\n')
      for (const g of gates.messages) io.stdout.write(g + '\n')
      if (o.out !== undefined) io.stdout.write(`report written to ${o.out}\n`)
    }
    if (interrupted) return EXIT.INTERRUPTED
    if (!gates.errorRateOk) return EXIT.ERROR_RATE
    if (!gates.sloOk) return EXIT.SLO
    return EXIT.OK
  } finally {
    io.offInterrupt(onSigint)
  }
}

/**
 * The local run's gates (--max-error-rate, --fail-on-slo) on the merged mesh report. evaluateGates
 * reads only `requests` and `slo_gate`, which the mesh report has with the same meaning and shape.
 */
export function meshGates (report: MeshReport, config: Pick<RunConfig, 'max_error_rate' | 'fail_on_slo'>): ReturnType<typeof evaluateGates> {
  const view: Pick<Report, 'requests' | 'slo_gate'> = { requests: report.requests, slo_gate: report.slo_gate }
  const gates = evaluateGates(view as Report, { maxErrorRate: config.max_error_rate, failOnSlo: config.fail_on_slo })
  // A local run always schedules something; a mesh run where every agent refused schedules nothing.
  if (report.requests.scheduled === 0 && report.requests.sent === 0) {
    return { ...gates, errorRateOk: false, messages: ['gate failed: no agent sent anything (see the agents\' refusals with `loadmesh status`)', ...gates.messages] }
  }
  return gates
}
