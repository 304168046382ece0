// The loadmesh pipeline under test, as one pinned process: workload (prompts, Poisson arrivals)
// -> open or closed loop -> injector -> run recorder, wired exactly as packages/agent/src/run-local.ts
// wires them, including its once-a-second live view. Warm-up first (same injector, so the
// connections, the HTTP parser and the JIT are warm), then the measured phase with a fresh recorder.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { systemClock } from '@loadmesh/clock'
import { createInjector, runClosedLoop, runOpenLoop } from '@loadmesh/injector'
import type { LoopResult, RequestSpec } from '@loadmesh/injector'
import { createRunRecorder, summarize } from '@loadmesh/metrics'
import type { RunRecorder } from '@loadmesh/metrics'
import { countTokens, createArrivalProcess, createPromptFactory, createRng, prepareTokenizer } from '@loadmesh/workload'
import { CHAT_PATH, MAX_TOKENS, MODEL, PROMPT_TOKENS } from '../payloads.ts'
import { workerMain } from '../worker-protocol.ts'
import type { LoadmeshClientConfig, LoadmeshClientResult } from '../client-results.ts'

workerMain<LoadmeshClientConfig>(async (c, { measuring }) => {
  const clock = systemClock()
  prepareTokenizer()
  const rng = createRng(c.seed)
  const prompts = createPromptFactory(rng.split('prompts'))
  const arrivals = c.mode === 'open' ? createArrivalProcess({ kind: 'poisson', rate: c.rate }, rng.split('arrivals')) : null
  let recorder: RunRecorder = createRunRecorder({ startAt: clock.now() })
  let firstError: string | null = null

  const injector = createInjector({
    baseUrl: c.baseUrl,
    model: MODEL,
    timeoutMs: 10_000,
    connections: c.connections,
    clock,
    countTokens,
    onSent: (t) => recorder.onSent(t)
  })
  const nextRequest = (): RequestSpec => ({
    endpoint: CHAT_PATH,
    prompt: prompts.make(PROMPT_TOKENS),
    inputTokens: PROMPT_TOKENS,
    maxTokens: MAX_TOKENS,
    stream: c.stream,
    includeUsage: true
  })
  const fire = async (intendedAt: number): Promise<void> => {
    const result = await injector.send(nextRequest(), intendedAt)
    recorder.record(result)
    if (!result.ok && firstError === null) firstError = `${result.errorClass}: ${result.errorMessage}`
  }

  async function phase(durationMs: number): Promise<{ loop: LoopResult; startAt: number; endAt: number }> {
    const startAt = clock.now() + 50
    recorder = createRunRecorder({ startAt, windowMs: 1000 })
    // run-local builds this progress view every second for the live panel; it is part of the cost.
    let ticker = clock.setTimer(function tick() {
      recorder.live(5000)
      injector.stats()
      ticker = clock.setTimer(tick, 1000)
    }, 1000)
    try {
      const loop = c.mode === 'open'
        ? await runOpenLoop({
          clock,
          startAt,
          durationMs,
          nextGapMs: () => arrivals!.nextGapMs(),
          maxInFlight: c.maxInFlight,
          fire,
          onScheduled: (t) => recorder.onScheduled(t),
          onDropped: (t) => recorder.onDropped(t)
        })
        : await runClosedLoop({
          clock,
          startAt,
          durationMs,
          concurrency: c.concurrency,
          fire: (t) => { recorder.onScheduled(t); return fire(t) }
        })
      return { loop, startAt, endAt: clock.now() }
    } finally {
      ticker.cancel()
    }
  }

  await phase(c.warmupMs)
  firstError = null
  measuring()
  const eld = monitorEventLoopDelay({ resolution: 1 })
  const cpu0 = process.cpuUsage()
  eld.enable()
  const { loop, startAt, endAt } = await phase(c.durationMs)
  eld.disable()
  const cpu = process.cpuUsage(cpu0)
  await injector.close()

  const cum = recorder.cumulative()
  const k = cum.counters
  const ms = (ns: number): number => ns / 1e6
  const result: LoadmeshClientResult = {
    wallMs: endAt - startAt,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loop,
    scheduled: k.scheduled,
    sent: k.sent,
    completed: k.completed,
    failed: k.failed,
    dropped: k.dropped,
    errors: k.errors,
    contentChunks: k.content_chunks,
    outputTokens: k.output_tokens,
    scheduleLagMs: summarize(cum.histograms.schedule_lag, { scale: 1000 }),
    eventLoopDelayMs: eld.count === 0
      ? { p50: null, p99: null, max: null }
      : { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
    firstError
  }
  return result
})
