// The simulator engine without HTTP, as a pinned process: virtual-time speed-up of runVirtual, or
// the step engine's own cost per token (see suites/sim-engine.ts).
import { createManualClock } from '@loadmesh/clock'
import { createEngineFromProfile, loadProfile, runVirtual } from '@loadmesh/sim-engine'
import type { SimRequest, TokenSink } from '@loadmesh/sim-engine'
import { createRng } from '@loadmesh/workload'
import { workerMain } from '../worker-protocol.ts'

export interface SimEngineClientConfig {
  deadlineMs: number
  mode: 'virtual' | 'engine'
  warmupMs: number
  durationMs: number
  seed: string
  profile: string
  /** virtual: closed-loop concurrency of the standard workload; engine: open streams. */
  concurrency: number
  inputTokens: string
  outputTokens: string
  /** virtual: virtual time per runVirtual call. */
  virtualRunMs: number
  /** engine: replicas the streams are spread over. */
  replicas: number
  tokensPerChunk: number
}

export interface SimEngineClientResult {
  /** virtual: virtual ms covered; engine: tokens emitted. */
  units: number
  completed: number
  failed: number
  outputTokens: number
  wallMs: number
  cpuMs: number
}

const cpuMsNow = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

async function measureVirtual(c: SimEngineClientConfig, signals: { measuring(): void }): Promise<SimEngineClientResult> {
  let run = 0
  const once = () => runVirtual({
    profile: c.profile, concurrency: c.concurrency, inputTokens: c.inputTokens, outputTokens: c.outputTokens,
    durationMs: c.virtualRunMs, seed: `${c.seed}/${run++}`, wallStart: 0
  })
  const warmEnd = performance.now() + c.warmupMs
  while (performance.now() < warmEnd) await once()
  signals.measuring()
  const out: SimEngineClientResult = { units: 0, completed: 0, failed: 0, outputTokens: 0, wallMs: 0, cpuMs: 0 }
  const t0 = performance.now()
  const cpu0 = cpuMsNow()
  while (performance.now() - t0 < c.durationMs) {
    const r = await once()
    out.units += r.virtualMs
    out.completed += r.report.requests.completed
    out.failed += r.report.requests.failed
    out.outputTokens += r.report.tokens.output_total
  }
  out.wallMs = performance.now() - t0
  out.cpuMs = cpuMsNow() - cpu0
  return out
}

async function measureEngine(c: SimEngineClientConfig, signals: { measuring(): void }): Promise<SimEngineClientResult> {
  const clock = createManualClock()
  const engine = createEngineFromProfile(loadProfile(c.profile), { clock, rng: createRng(c.seed), tokensPerChunk: c.tokensPerChunk }, { replicas: c.replicas })
  engine.start()
  const prompt = Number(c.inputTokens)
  const output = Number(c.outputTokens)
  let tokens = 0
  let completed = 0
  let failed = 0
  let seq = 0
  // A stream that ends is replaced at once, so `concurrency` streams are always open.
  const sink: TokenSink = {
    onTokens(n) { tokens += n },
    onDone() { completed++; open() },
    onError() { failed++ }
  }
  const open = (): void => {
    const req: SimRequest = {
      id: `s${seq++}`, endpoint: '/v1/chat/completions', model: 'm', promptTokens: prompt, outputTokens: output,
      finishReason: 'length', stream: true, arrivalAt: clock.now()
    }
    engine.submit(req, sink)
  }
  for (let i = 0; i < c.concurrency; i++) open()
  const drive = (wallMs: number): void => {
    const end = performance.now() + wallMs
    while (performance.now() < end) clock.advance(50)
  }
  drive(c.warmupMs)
  signals.measuring()
  const tokens0 = tokens
  const completed0 = completed
  const t0 = performance.now()
  const cpu0 = cpuMsNow()
  drive(c.durationMs)
  const out = { units: tokens - tokens0, completed: completed - completed0, failed, outputTokens: tokens - tokens0, wallMs: performance.now() - t0, cpuMs: cpuMsNow() - cpu0 }
  engine.stop()
  return out
}

workerMain<SimEngineClientConfig>((c, signals) => (c.mode === 'virtual' ? measureVirtual(c, signals) : measureEngine(c, signals)))
