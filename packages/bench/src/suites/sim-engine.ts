import { loadavg } from 'node:os'
import type { ClientMeasurement, SimEngineSuite } from '../results.ts'
import type { SimEngineClientConfig, SimEngineClientResult } from '../workers/sim-engine-client.ts'
import { CLIENT_CORE, errorText, measured, notMeasured, probeBothCores, profileArgs, runMeasuredWorker, workerTimeoutMs } from './context.ts'
import type { BenchContext } from './context.ts'

export const SIM_PROFILE = 'h100-llama3.1-8b-fp8'
/** The standard what-if workload: the CLI's default lengths, a closed loop of 64. */
export const VIRTUAL_CONCURRENCY = 64
export const VIRTUAL_INPUT = 'lognormal:mean=512,stdev=256,min=16,max=4096'
export const VIRTUAL_OUTPUT = 'negbin:mean=128,r=2,min=1,max=1024'
export const VIRTUAL_RUN_MS = 120_000
/** Engine cost: 10,000 open streams over as many replicas as max_num_seqs (256) needs, a token per chunk. */
export const ENGINE_STREAMS = 10_000
export const ENGINE_REPLICAS = 40
export const ENGINE_PROMPT = 512
export const ENGINE_OUTPUT = 256
export const ENGINE_GOAL_TOKENS_PER_CPU_S = 1_000_000
const TITLE = 'Simulator engine: virtual-time speed-up and cost per token'
const GOAL = `engine cost ≤ 1 µs per token (≥ ${ENGINE_GOAL_TOKENS_PER_CPU_S.toLocaleString('en-US')} tokens per CPU-second) with ${ENGINE_STREAMS.toLocaleString('en-US')} open streams`

/**
 * Suite: the LLM simulator's step engine without HTTP, pinned to core 0. "virtual time" runs the
 * standard what-if workload with runVirtual over and over and reports virtual seconds per wall
 * second (the speed-up of `loadmesh simulate --virtual`). "engine" keeps 10,000 streams open on the
 * engine alone (manual clock, sinks that only count) and reports tokens per CPU-second: the
 * simulator's budget per token before any HTTP or SSE framing.
 */
export async function runSimEngineSuite(ctx: BenchContext): Promise<SimEngineSuite> {
  ctx.log(`[sim-engine] ${TITLE}`)
  const base = {
    id: 'sim-engine' as const,
    title: TITLE,
    profile: SIM_PROFILE,
    workload: `closed loop ${VIRTUAL_CONCURRENCY}, input ${VIRTUAL_INPUT}, output ${VIRTUAL_OUTPUT}, ${VIRTUAL_RUN_MS / 1000} s of virtual time per run`,
    streams: ENGINE_STREAMS,
    replicas: ENGINE_REPLICAS,
    warmup_s: ctx.warmupMs / 1000,
    duration_s: ctx.durationMs / 1000,
    load_avg_start: loadavg()[0],
    cpu_probe: await probeBothCores(ctx)
  }
  const common = {
    deadlineMs: workerTimeoutMs(ctx), warmupMs: ctx.warmupMs, durationMs: ctx.durationMs, seed: ctx.seed, profile: SIM_PROFILE, tokensPerChunk: 1
  }
  const virtual = await measure(ctx, 'virtual time', {
    ...common, mode: 'virtual', concurrency: VIRTUAL_CONCURRENCY, inputTokens: VIRTUAL_INPUT, outputTokens: VIRTUAL_OUTPUT, virtualRunMs: VIRTUAL_RUN_MS, replicas: 1
  }, (r) => r.units / 1000, (r) => `${Math.round(r.units / Math.max(1, r.wallMs))}× real time, ${Math.round(r.outputTokens / (r.wallMs / 1000)).toLocaleString('en-US')} simulated tokens/s`)
  const engine = await measure(ctx, 'engine', {
    ...common, mode: 'engine', concurrency: ENGINE_STREAMS, inputTokens: String(ENGINE_PROMPT), outputTokens: String(ENGINE_OUTPUT), virtualRunMs: 0, replicas: ENGINE_REPLICAS
  }, (r) => r.units, (r) => `${r.units > 0 ? ((r.cpuMs * 1e6) / r.units).toFixed(0) : 'n/a'} ns of CPU per token`)
  const clients = [virtual, engine]
  const perCpu = engine.per_cpu_s
  return {
    ...base,
    status: clients.some((c) => c.status === 'ok') ? 'ok' : 'failed',
    note: null,
    clients,
    goals: [{ description: GOAL, met: perCpu === null ? null : perCpu >= ENGINE_GOAL_TOKENS_PER_CPU_S }]
  }
}

async function measure(
  ctx: BenchContext, name: string, config: SimEngineClientConfig, units: (r: SimEngineClientResult) => number, describe: (r: SimEngineClientResult) => string
): Promise<ClientMeasurement> {
  ctx.log(`  ${name}: warm-up ${ctx.warmupMs / 1000} s, then ${ctx.durationMs / 1000} s`)
  try {
    const { result: r, usage } = await runMeasuredWorker<SimEngineClientResult>(ctx, 'sim-engine-client.ts', config, {
      core: CLIENT_CORE, timeoutMs: workerTimeoutMs(ctx), execArgv: profileArgs(ctx, `sim-engine-${config.mode}`)
    }, null)
    const m = measured(name, { units: units(r), completed: r.completed, failed: r.failed, wallMs: r.wallMs, cpuMs: r.cpuMs, usage, note: describe(r) })
    ctx.log(`  ${name}: ${describe(r)}`)
    return { ...m, rounds: [m.value ?? 0] }
  } catch (err) {
    ctx.log(`  ${name}: FAILED: ${errorText(err)}`)
    return notMeasured(name, 'failed', errorText(err))
  }
}
