import { loadavg } from 'node:os'
import { captureInjectorRequest } from '../capture-request.ts'
import type { BaselineClientResult, LoadmeshClientConfig, LoadmeshClientResult } from '../client-results.ts'
import { startNginx } from '../nginx-target.ts'
import type { Target } from '../nginx-target.ts'
import { CHAT_PATH } from '../payloads.ts'
import type { ReqPerSSuite } from '../results.ts'
import { INSTALL_HINT } from '../tools.ts'
import { startCoreUsage } from '../core-usage.ts'
import { runWrk, writeWrkScript } from '../wrk.ts'
import type { AutocannonClientConfig } from '../workers/autocannon-client.ts'
import { CLIENT_CORE, errorText, measureClients, measured, probeBothCores, profileArgs, ratio, runMeasuredWorker, TARGET_CORE, workerTimeoutMs } from './context.ts'
import type { BenchContext } from './context.ts'

export const REQ_CONNECTIONS = 64
const TITLE = 'Non-streamed requests per second, one client core'
const GOAL = 'loadmesh req/s ≥ autocannon req/s (same target, connections and body)'

/**
 * Suite 1: the same nginx target, connections and request body for each client in turn, each
 * pinned to core 0 with nginx alone on core 1. loadmesh runs its full pipeline (closed loop,
 * injector, recorder); autocannon and wrk are the yardsticks.
 */
export async function runReqPerSSuite(ctx: BenchContext): Promise<ReqPerSSuite> {
  const base = {
    id: 'req-per-s' as const,
    title: TITLE,
    target: 'nginx (1 process, core 1), fixed chat.completion JSON',
    connections: REQ_CONNECTIONS,
    warmup_s: ctx.warmupMs / 1000,
    duration_s: ctx.durationMs / 1000,
    rounds: Math.max(1, ctx.rounds),
    load_avg_start: loadavg()[0],
    cpu_probe: { core0: null, core1: null } as ReqPerSSuite['cpu_probe']
  }
  ctx.log(`[req-per-s] ${TITLE}`)
  if (ctx.tools.nginx === null) {
    const note = `nginx not found, suite skipped: ${INSTALL_HINT}`
    ctx.log(`  ${note}`)
    return { ...base, status: 'skipped', note, request_bytes: 0, clients: [], ratios: { loadmesh_over_autocannon: null, loadmesh_over_wrk: null }, goals: [{ description: GOAL, met: null }] }
  }

  base.cpu_probe = await probeBothCores(ctx)
  let target: Target
  try {
    target = await startNginx(ctx.registry, ctx.tools.nginx, ctx.tmpDir, TARGET_CORE)
  } catch (err) {
    ctx.log(`  nginx failed to start: ${errorText(err)}`)
    return { ...base, status: 'failed', note: `nginx failed to start: ${errorText(err)}`, request_bytes: 0, clients: [], ratios: { loadmesh_over_autocannon: null, loadmesh_over_wrk: null }, goals: [{ description: GOAL, met: null }] }
  }
  try {
    const req = await captureInjectorRequest(ctx.seed, false)
    const url = `${target.baseUrl}${CHAT_PATH}`
    const scriptPath = writeWrkScript(ctx.tmpDir, req.body, req.headers)
    const wrk = ctx.tools.wrk
    const clients = await measureClients(ctx, [
      {
        name: 'loadmesh',
        skip: null,
        run: async (durationMs, round) => {
          const config: LoadmeshClientConfig = {
            deadlineMs: workerTimeoutMs(ctx), baseUrl: target.baseUrl, stream: false, connections: REQ_CONNECTIONS,
            warmupMs: ctx.warmupMs, durationMs, seed: ctx.seed, mode: 'closed', concurrency: REQ_CONNECTIONS
          }
          const { result: r, usage } = await runMeasuredWorker<LoadmeshClientResult>(ctx, 'loadmesh-client.ts', config, {
            core: CLIENT_CORE, timeoutMs: workerTimeoutMs(ctx), execArgv: profileArgs(ctx, `req-per-s-loadmesh-${round}`)
          }, target.pid)
          return measured('loadmesh', {
            units: r.completed, completed: r.completed, failed: r.failed, wallMs: r.wallMs, cpuMs: r.cpuMs, usage,
            note: r.failed > 0 ? `${r.failed} failed; first: ${r.firstError}` : null
          })
        }
      },
      {
        name: 'autocannon',
        skip: null,
        run: async (durationMs, round) => {
          const config: AutocannonClientConfig = {
            deadlineMs: workerTimeoutMs(ctx), url, connections: REQ_CONNECTIONS,
            warmupMs: ctx.warmupMs, durationMs, body: req.body, headers: req.headers
          }
          const { result: r, usage } = await runMeasuredWorker<BaselineClientResult>(ctx, 'autocannon-client.ts', config, {
            core: CLIENT_CORE, timeoutMs: workerTimeoutMs(ctx), execArgv: profileArgs(ctx, `req-per-s-autocannon-${round}`)
          }, target.pid)
          return measured('autocannon', { units: r.completed, completed: r.completed, failed: r.failed, wallMs: r.wallMs, cpuMs: r.cpuMs, usage })
        }
      },
      {
        name: 'wrk',
        skip: wrk === null ? `wrk not found: ${INSTALL_HINT}` : null,
        run: async (durationMs) => {
          const o = { wrk: wrk as string, bash: ctx.tools.bash, core: CLIENT_CORE, url, connections: REQ_CONNECTIONS, scriptPath }
          await runWrk(ctx.registry, { ...o, durationMs: ctx.warmupMs })
          const meter = startCoreUsage(target.pid)
          const r = await runWrk(ctx.registry, { ...o, durationMs })
          const usage = meter.stop(r.cpuMs)
          const ok = r.requests - r.non2xx
          return measured('wrk', { units: ok, completed: ok, failed: r.non2xx + r.socketErrors, wallMs: r.seconds * 1000, cpuMs: r.cpuMs, usage })
        }
      }
    ])

    const value = (name: string): number | null => clients.find((c) => c.name === name && c.status === 'ok')?.value ?? null
    const lm = value('loadmesh')
    const ac = value('autocannon')
    return {
      ...base,
      status: lm === null ? 'failed' : 'ok',
      note: null,
      request_bytes: Buffer.byteLength(req.body),
      clients,
      ratios: { loadmesh_over_autocannon: ratio(lm, ac), loadmesh_over_wrk: ratio(lm, value('wrk')) },
      goals: [{ description: GOAL, met: lm === null || ac === null ? null : lm >= ac }]
    }
  } finally {
    await target.stop()
  }
}
