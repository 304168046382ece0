import { loadavg } from 'node:os'
import { captureInjectorRequest } from '../capture-request.ts'
import type { BaselineClientResult, LoadmeshClientConfig, LoadmeshClientResult } from '../client-results.ts'
import { startNginx } from '../nginx-target.ts'
import type { Target } from '../nginx-target.ts'
import { CHAT_PATH } from '../payloads.ts'
import type { ClientMeasurement, ReqPerSSuite, RoundPair } from '../results.ts'
import { INSTALL_HINT } from '../tools.ts'
import { startCoreUsage } from '../core-usage.ts'
import { runWrk, writeWrkScript } from '../wrk.ts'
import type { AutocannonClientConfig } from '../workers/autocannon-client.ts'
import { runWorker, workerPath } from '../worker-protocol.ts'
import { CLIENT_CORE, errorText, measureClients, measured, probeBothCores, profileArgs, ratio, runMeasuredWorker, TARGET_CORE, workerTimeoutMs } from './context.ts'
import type { BenchContext } from './context.ts'

export const REQ_CONNECTIONS = 64
/**
 * loadmesh and autocannon alternate in this many rounds (full run): the VM's noise comes in bursts
 * of seconds, and more, shorter rounds back to back let both clients see more of the same bursts.
 */
export const PAIR_ROUNDS = 6
/**
 * Rounds in which loadmesh and autocannon run at the same time, both on core 0: whatever the VM
 * does to that core in a round, it does to both, so their req per CPU-second ratio is steady where
 * rounds taken in turn vary by 2x. Each gets about half the core, so only the ratio is reported.
 */
export const SHARED_CORE_ROUNDS = 3
const TITLE = 'Non-streamed requests per second, one client core'
const GOAL = 'loadmesh req/s ≥ autocannon req/s (same target, connections and body; judged on the median back-to-back round pair and on both clients sharing core 0 at once)'

/**
 * Suite 1: the same nginx target, connections and request body for each client in turn, each
 * pinned to core 0 with nginx alone on core 1. loadmesh runs its full pipeline (closed loop,
 * injector, recorder); autocannon and wrk are the yardsticks. loadmesh and autocannon alternate
 * in PAIR_ROUNDS short rounds (each pair of rounds back to back, the first place alternating) and
 * their ratio is also reported per pair; wrk, a ceiling rather than a goal, runs after them.
 */
export async function runReqPerSSuite(ctx: BenchContext): Promise<ReqPerSSuite> {
  const base = {
    id: 'req-per-s' as const,
    title: TITLE,
    target: 'nginx (1 process, core 1), fixed chat.completion JSON',
    connections: REQ_CONNECTIONS,
    warmup_s: ctx.warmupMs / 1000,
    duration_s: ctx.durationMs / 1000,
    rounds: ctx.rounds <= 1 ? 1 : PAIR_ROUNDS,
    wrk_rounds: Math.max(1, ctx.rounds),
    load_avg_start: loadavg()[0],
    cpu_probe: { core0: null, core1: null } as ReqPerSSuite['cpu_probe']
  }
  ctx.log(`[req-per-s] ${TITLE}`)
  if (ctx.tools.nginx === null) {
    const note = `nginx not found, suite skipped: ${INSTALL_HINT}`
    ctx.log(`  ${note}`)
    return { ...base, status: 'skipped', note, request_bytes: 0, clients: [], round_pairs: [], ratios: { loadmesh_over_autocannon: null, loadmesh_over_wrk: null, median_round_pair: null }, goals: [{ description: GOAL, met: null }] }
  }

  base.cpu_probe = await probeBothCores(ctx)
  let target: Target
  try {
    target = await startNginx(ctx.registry, ctx.tools.nginx, ctx.tmpDir, TARGET_CORE)
  } catch (err) {
    ctx.log(`  nginx failed to start: ${errorText(err)}`)
    return { ...base, status: 'failed', note: `nginx failed to start: ${errorText(err)}`, request_bytes: 0, clients: [], round_pairs: [], ratios: { loadmesh_over_autocannon: null, loadmesh_over_wrk: null, median_round_pair: null }, goals: [{ description: GOAL, met: null }] }
  }
  try {
    const req = await captureInjectorRequest(ctx.seed, false)
    const url = `${target.baseUrl}${CHAT_PATH}`
    const scriptPath = writeWrkScript(ctx.tmpDir, req.body, req.headers)
    const wrk = ctx.tools.wrk
    const byRound: Record<'loadmesh' | 'autocannon', (ClientMeasurement | undefined)[]> = { loadmesh: [], autocannon: [] }
    const pair = await measureClients({ ...ctx, rounds: base.rounds }, [
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
          const m = measured('loadmesh', {
            units: r.completed, completed: r.completed, failed: r.failed, wallMs: r.wallMs, cpuMs: r.cpuMs, usage,
            note: r.failed > 0 ? `${r.failed} failed; first: ${r.firstError}` : null
          })
          byRound.loadmesh[round] = m
          return m
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
          const m = measured('autocannon', { units: r.completed, completed: r.completed, failed: r.failed, wallMs: r.wallMs, cpuMs: r.cpuMs, usage })
          byRound.autocannon[round] = m
          return m
        }
      }
    ])
    const roundPairs: RoundPair[] = []
    for (let r = 0; r < base.rounds; r++) {
      const lm = byRound.loadmesh[r]
      const ac = byRound.autocannon[r]
      roundPairs.push({
        loadmesh: lm?.value ?? null,
        autocannon: ac?.value ?? null,
        ratio: ratio(lm?.value, ac?.value),
        ratio_per_cpu_s: ratio(lm?.per_cpu_s, ac?.per_cpu_s)
      })
    }
    const medianPair = median(roundPairs.map((p) => p.ratio).filter((x): x is number => x !== null))
    if (roundPairs.length > 1) {
      const fmt = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(2)}x`)
      ctx.log(`  loadmesh / autocannon per round pair: ${roundPairs.map((p) => fmt(p.ratio)).join(' ')} (median ${fmt(medianPair)}); per CPU-second: ${roundPairs.map((p) => fmt(p.ratio_per_cpu_s)).join(' ')}`)
    }
    const sharedCore: number[] = []
    if (ctx.rounds > 1) {
      for (let r = 0; r < SHARED_CORE_ROUNDS; r++) {
        try {
          const durationMs = ctx.durationMs / PAIR_ROUNDS
          const [lm, ac] = await Promise.all([
            runWorker<LoadmeshClientResult>(ctx.registry, workerPath('loadmesh-client.ts'), {
              deadlineMs: workerTimeoutMs(ctx), baseUrl: target.baseUrl, stream: false, connections: REQ_CONNECTIONS,
              warmupMs: ctx.warmupMs, durationMs, seed: ctx.seed, mode: 'closed', concurrency: REQ_CONNECTIONS
            } satisfies LoadmeshClientConfig, { core: CLIENT_CORE, timeoutMs: workerTimeoutMs(ctx) }),
            runWorker<BaselineClientResult>(ctx.registry, workerPath('autocannon-client.ts'), {
              deadlineMs: workerTimeoutMs(ctx), url, connections: REQ_CONNECTIONS,
              warmupMs: ctx.warmupMs, durationMs, body: req.body, headers: req.headers
            } satisfies AutocannonClientConfig, { core: CLIENT_CORE, timeoutMs: workerTimeoutMs(ctx) })
          ])
          const v = ratio(lm.completed / lm.cpuMs, ac.completed / ac.cpuMs)
          if (v !== null && Number.isFinite(v) && lm.failed === 0 && ac.failed === 0) sharedCore.push(v)
        } catch (err) {
          ctx.log(`  shared-core round ${r + 1}/${SHARED_CORE_ROUNDS}: FAILED: ${errorText(err)}`)
        }
      }
      if (sharedCore.length > 0) {
        ctx.log(`  loadmesh / autocannon per CPU-second, both on core 0 at once: ${sharedCore.map((x) => `${x.toFixed(2)}x`).join(' ')} (median ${(median(sharedCore) as number).toFixed(2)}x)`)
      }
    }
    const [wrkResult] = await measureClients(ctx, [
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
    const clients = [...pair, wrkResult as ClientMeasurement]

    const value = (name: string): number | null => clients.find((c) => c.name === name && c.status === 'ok')?.value ?? null
    const lm = value('loadmesh')
    const ac = value('autocannon')
    return {
      ...base,
      status: lm === null ? 'failed' : 'ok',
      note: null,
      request_bytes: Buffer.byteLength(req.body),
      clients,
      round_pairs: roundPairs,
      shared_core_per_cpu_s: sharedCore,
      ratios: { loadmesh_over_autocannon: ratio(lm, ac), loadmesh_over_wrk: ratio(lm, value('wrk')), median_round_pair: medianPair, shared_core_per_cpu_s: median(sharedCore) },
      goals: [{ description: GOAL, met: reqPerSGoalMet(lm, ac, medianPair, median(sharedCore)) }]
    }
  } finally {
    await target.stop()
  }
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/**
 * The goal is judged on the two comparisons the VM's noise cannot decide: rounds taken in turn
 * vary by up to 2x on this machine, so a total over them says more about which client drew the
 * bad round than about either client. Both ratios must reach 1; a --quick run (one round, no
 * pairs) falls back to the totals.
 */
export function reqPerSGoalMet(lm: number | null, ac: number | null, medianPair: number | null, sharedCore: number | null): boolean | null {
  if (medianPair !== null && sharedCore !== null) return medianPair >= 1 && sharedCore >= 1
  if (medianPair !== null) return medianPair >= 1
  return lm === null || ac === null ? null : lm >= ac
}
