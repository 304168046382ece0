import { createManualClock } from '@loadmesh/clock'
import type { Timer } from '@loadmesh/clock'
import { createRunRecorder, emptyResult, parseSlo } from '@loadmesh/metrics'
import type { RequestResult, Slo } from '@loadmesh/metrics'
import { buildReport } from '@loadmesh/report'
import type { Report } from '@loadmesh/report'
import { createArrivalProcess, createLengthSampler, createRng, parseArrivalKind, parseLengthSpec } from '@loadmesh/workload'
import type { ArrivalKind, LengthSpec } from '@loadmesh/workload'
import { createEngineFromProfile } from './create-engine.ts'
import type { EngineFault, EngineStats, SimEndpoint, SimError, SimRequest, TokenSink } from './engine-types.ts'
import { VirtualRunError } from './errors.ts'
import { loadProfile } from './load-profile.ts'
import { parseProfile } from './profile.ts'
import type { Profile, StepProfile } from './profile.ts'
import type { Routing } from './step-engine.ts'

export interface VirtualRunOptions {
  /** A step profile, or a preset name / profile file path for `loadProfile`. */
  profile: Profile | string
  replicas?: number
  routing?: Routing
  /** Per-replica queue limit (503 above it). */
  maxWaiting?: number
  /** Open loop: arrivals per second (exclusive with `concurrency`). */
  rate?: number
  /** Arrival process of the open loop (default poisson). */
  arrival?: ArrivalKind
  /** Gamma shape for arrival gamma (default 1). */
  burstiness?: number
  /** Closed loop: requests kept in flight (exclusive with `rate`). */
  concurrency?: number
  /** Prompt length per request, a LengthSpec or its text (e.g. `fixed:200`). */
  inputTokens: LengthSpec | string
  /** Output length per request (max_tokens, generated exactly as with ignore_eos). */
  outputTokens: LengthSpec | string
  /** How long requests are started, ms of virtual time. */
  durationMs: number
  /** Same seed, same run (default 1). */
  seed?: string | number
  slo?: Slo | string
  /** Streamed responses (default true): every onTokens is a content chunk with its own ITL. */
  stream?: boolean
  endpoint?: '/v1/chat/completions' | '/v1/completions'
  /** Tokens the engine releases per chunk (default 1). */
  tokensPerChunk?: number
  /** Open-loop in-flight cap; arrivals over it are dropped and counted (default 4096). */
  maxInFlight?: number
  /** Per-request timeout from the intended send, ms (default 120 s). */
  timeoutMs?: number
  /** Engine faults played at virtual times (ms from the start). */
  faults?: Array<{ atMs: number; fault: EngineFault }>
  runId?: string
  /** Epoch ms stamped as the report's start (default now); virtual time runs from there. */
  wallStart?: number
  /** Fields merged into the report's `config` (e.g. the CLI's RunConfig). */
  config?: Record<string, unknown>
  /** Gives up (the report says interrupted) after this much wall time (default 10 min). */
  maxWallMs?: number
  /** Aborting stops the run where it is; the report says interrupted. */
  signal?: AbortSignal
}

export interface VirtualRunResult {
  report: Report
  /** Wall time the run took, ms. */
  wallMs: number
  /** Virtual time it covered (first intended send to the last response), ms. */
  virtualMs: number
  /** virtualMs / wallMs: how much faster than real time. */
  speedup: number
  /** The engine's counters at the end (preemptions, prefix cache, ...). */
  engine: EngineStats
}

/** Closed loop: how long a worker takes to send again after an instant refusal. */
const REFUSED_RETRY_MS = 1

/** Virtual time between checks of the wall-time bound (and yields to the event loop). */
const SLICE_MS = 1000

interface InFlight {
  result: RequestResult
  deadline: number
  cancel: () => void
  done: boolean
}

/**
 * Runs a workload against the step engine in virtual time: a manual clock driven as fast as the CPU
 * goes, no HTTP. Each request is recorded exactly as the injector would record it against the
 * simulator (intended time, first token, a content chunk per `onTokens`, usage token counts), into
 * the same run recorder, and the result is the same `loadmesh.report/v1` report a real run makes:
 * a what-if capacity predictor.
 */
export async function runVirtual(opts: VirtualRunOptions): Promise<VirtualRunResult> {
  const profile = resolveProfile(opts.profile)
  const mode = checkMode(opts)
  if (!(opts.durationMs > 0 && Number.isFinite(opts.durationMs))) throw new VirtualRunError(`virtual run durationMs: must be a positive number of ms, got ${String(opts.durationMs)}`)
  const inputSpec = typeof opts.inputTokens === 'string' ? parseLengthSpec(opts.inputTokens, 'virtual run inputTokens') : opts.inputTokens
  const outputSpec = typeof opts.outputTokens === 'string' ? parseLengthSpec(opts.outputTokens, 'virtual run outputTokens') : opts.outputTokens
  const slo: Slo = typeof opts.slo === 'string' ? parseSlo(opts.slo, 'virtual run slo') : (opts.slo ?? {})
  const seed = String(opts.seed ?? 1)
  const stream = opts.stream ?? true
  const endpoint: SimEndpoint = opts.endpoint ?? '/v1/chat/completions'
  const tokensPerChunk = opts.tokensPerChunk ?? 1
  const maxInFlight = opts.maxInFlight ?? 4096
  const timeoutMs = opts.timeoutMs ?? 120_000
  if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new VirtualRunError(`virtual run maxInFlight: must be a positive integer, got ${String(opts.maxInFlight)}`)
  if (!(timeoutMs > 0)) throw new VirtualRunError(`virtual run timeoutMs: must be positive, got ${String(opts.timeoutMs)}`)
  const arrival = opts.arrival ?? 'poisson'
  parseArrivalKind(arrival, 'virtual run arrival')
  const burstiness = opts.burstiness ?? 1
  const wallStart = opts.wallStart ?? Date.now()
  const replicas = opts.replicas ?? 1

  const clock = createManualClock(0, wallStart)
  const rng = createRng(seed)
  const inputLen = createLengthSampler(inputSpec, rng.split('input_tokens'), 'virtual run inputTokens')
  const outputLen = createLengthSampler(outputSpec, rng.split('output_tokens'), 'virtual run outputTokens')
  const engine = createEngineFromProfile(profile, { clock, rng: rng.split('engine'), tokensPerChunk }, {
    replicas, routing: opts.routing, maxWaiting: opts.maxWaiting
  })
  const startAt = 0
  const endAt = startAt + opts.durationMs
  const rec = createRunRecorder({ startAt, windowMs: 1000, slo })
  let seq = 0
  let inFlight = 0
  let lastEventAt = startAt

  // Requests in send order: their deadlines are in the same order, so one timer sweeps timeouts.
  const queue: InFlight[] = []
  let queueHead = 0
  let sweeper: Timer | undefined
  const armSweeper = (): void => {
    while (queueHead < queue.length && queue[queueHead].done) queueHead++
    if (queueHead > 1024 && queueHead * 2 > queue.length) { queue.splice(0, queueHead); queueHead = 0 }
    sweeper?.cancel()
    sweeper = queueHead < queue.length ? clock.setTimer(sweep, queue[queueHead].deadline - clock.now()) : undefined
  }
  const sweep = (): void => {
    sweeper = undefined
    const now = clock.now()
    while (queueHead < queue.length && (queue[queueHead].done || queue[queueHead].deadline <= now)) {
      const f = queue[queueHead++]
      if (f.done) continue
      f.cancel()
      finish(f, false, 'timeout', `no complete response within ${timeoutMs} ms`)
    }
    armSweeper()
  }

  /** `refused`: failed inside submit, before the engine took it (no time passed for it). */
  let onFree: ((refused: boolean) => void) | undefined
  const finish = (f: InFlight, ok: boolean, errorClass?: string, message?: string, refused = false): void => {
    if (f.done) return
    f.done = true
    const r = f.result
    const now = clock.now()
    r.endAt = now
    r.ok = ok
    if (!ok) {
      r.errorClass = errorClass
      r.errorMessage = message
    }
    rec.record(r)
    inFlight--
    if (now > lastEventAt) lastEventAt = now
    onFree?.(refused)
  }

  const send = (intendedAt: number): void => {
    const inputTokens = inputLen.sample()
    const outputTokens = outputLen.sample()
    const result = emptyResult(intendedAt, endpoint, stream)
    const now = clock.now()
    result.sentAt = now
    result.inputTokens = inputTokens
    result.outputTokensSource = 'usage'
    rec.onSent(now)
    inFlight++
    const f: InFlight = { result, deadline: intendedAt + timeoutMs, cancel: () => {}, done: false }
    let tokens = 0
    let last = Number.NaN
    const sink: TokenSink = {
      onTokens(n) {
        tokens += n
        if (!stream) return
        const t = clock.now()
        if (Number.isNaN(last)) {
          result.firstTokenAt = t
          result.firstContentAt = t
        } else {
          result.itls.push(t - last)
        }
        last = t
        result.lastTokenAt = t
        result.contentChunks++
      },
      onDone() {
        result.outputTokens = tokens
        if (!stream && tokens > 0) {
          // The whole answer arrives with the body, as the injector records a non-streamed response.
          result.firstTokenAt = clock.now()
          result.firstContentAt = result.firstTokenAt
          result.contentChunks = 1
        }
        finish(f, true)
      },
      onError(err: SimError) {
        result.outputTokens = tokens
        // Refused at admission, or not streamed: the client sees the status. Mid-stream: an SSE error.
        const status = !sent || !stream
        finish(f, false, status ? `http_${err.status}` : 'sse_error', err.message, !sent)
      }
    }
    const req: SimRequest = {
      id: `virtual-${seq++}`,
      endpoint,
      model: profile.model.name,
      promptTokens: inputTokens,
      outputTokens,
      finishReason: 'length',
      stream,
      arrivalAt: now
    }
    let sent = false
    f.cancel = engine.submit(req, sink)
    sent = true
    if (f.done) return
    queue.push(f)
    if (sweeper === undefined) armSweeper()
  }

  for (const { atMs, fault } of opts.faults ?? []) {
    if (!(atMs >= 0 && Number.isFinite(atMs))) throw new VirtualRunError(`virtual run faults: atMs must be >= 0, got ${String(atMs)}`)
    clock.setTimer(() => { engine.inject(fault) }, startAt + atMs)
  }

  engine.start()
  let finished = false
  let endTimer: Timer | undefined
  if (mode === 'closed') {
    const concurrency = opts.concurrency as number
    // A worker whose request ended sends its next one on the next turn, as the closed loop does,
    // with the moment it became free as the intended time.
    const next = (): void => {
      const t = clock.now()
      if (t >= endAt) {
        if (inFlight === 0) finished = true
        return
      }
      rec.onScheduled(t)
      send(t)
    }
    // An instant refusal (503 from a full queue or a crashed fleet) costs a real client about a round
    // trip; without that, a worker would retry infinitely often at one instant of virtual time.
    onFree = (refused) => {
      if (refused) clock.setTimer(next, REFUSED_RETRY_MS)
      else clock.setImmediate(next)
    }
    clock.setTimer(() => {
      for (let i = 0; i < concurrency; i++) next()
    }, startAt)
  } else {
    const arrivals = createArrivalProcess({ kind: arrival, rate: opts.rate as number, burstiness }, rng.split('arrivals'))
    // A constant rate starts at t = 0 (as run-local does); random processes start with a gap.
    let t = startAt + (arrival === 'constant' ? 0 : arrivals.nextGapMs())
    const fire = (): void => {
      const now = clock.now()
      while (t <= now && t < endAt) {
        rec.onScheduled(t)
        if (inFlight >= maxInFlight) rec.onDropped(t)
        else send(t)
        t += arrivals.nextGapMs()
      }
      if (t < endAt) clock.setTimer(fire, t - now)
    }
    if (t < endAt) clock.setTimer(fire, t - startAt)
    // The run lasts its full duration even when the last arrival came earlier.
    endTimer = clock.setTimer(() => { endTimer = undefined; if (inFlight === 0) finished = true }, endAt)
    onFree = () => { if (inFlight === 0 && clock.now() >= endAt) finished = true }
  }

  const maxWallMs = opts.maxWallMs ?? 600_000
  const wall0 = performance.now()
  let interrupted = false
  let yieldAt = wall0 + 50
  while (!finished) {
    // advance, not runAll: a slice with no timer in it (a long step, a quiet open loop) must still
    // move time on.
    clock.advance(SLICE_MS)
    if (clock.pending() === 0) break
    const w = performance.now()
    if (w - wall0 > maxWallMs || opts.signal?.aborted === true) { interrupted = true; break }
    // Long runs give the event loop a turn now and then (signals, progress output).
    if (w >= yieldAt) {
      await new Promise<void>((resolve) => { setImmediate(resolve) })
      yieldAt = performance.now() + 50
    }
  }
  endTimer?.cancel()
  sweeper?.cancel()
  const engineStats = engine.stats()
  engine.stop()
  const wallMs = performance.now() - wall0
  const endVirtual = Math.max(lastEventAt, mode === 'open' && !interrupted ? endAt : startAt)
  const virtualMs = endVirtual - startAt

  const config = {
    target: `virtual:${profile.name}`,
    model: profile.model.name,
    endpoint,
    duration_ms: opts.durationMs,
    mode,
    rate: mode === 'open' ? (opts.rate as number) : null,
    concurrency: mode === 'closed' ? (opts.concurrency as number) : null,
    arrival,
    burstiness,
    input_tokens: inputSpec,
    output_tokens: outputSpec,
    stream,
    ignore_eos: true,
    seed,
    slo,
    max_in_flight: maxInFlight,
    timeout_ms: timeoutMs,
    ...opts.config,
    virtual: {
      profile: profile.name,
      replicas,
      routing: opts.routing ?? 'round-robin',
      max_waiting: opts.maxWaiting ?? null,
      tokens_per_chunk: tokensPerChunk,
      faults: opts.faults ?? []
    }
  }
  const report = buildReport({
    runId: opts.runId ?? `virtual-${seed}`,
    config: config as { slo: Slo },
    startedAt: wallStart,
    endedAt: wallStart + virtualMs,
    durationS: Math.max(1e-9, virtualMs / 1000),
    plannedDurationS: opts.durationMs / 1000,
    targetRate: mode === 'open' ? (opts.rate as number) : null,
    recorder: rec,
    // Nothing ran on an event loop under load: the generator's own health is not a question here.
    injector: { event_loop_delay_ms: { p50: 0, p99: 0, max: 0, mean: 0 }, cpu: { user_s: 0, system_s: 0, utilisation: 0 } },
    tokenizer: 'none (virtual run: the engine counts tokens)',
    interrupted
  })
  const stopped = !interrupted ? '' : opts.signal?.aborted === true ? '; stopped early (aborted)' : `; stopped after ${Math.round(maxWallMs / 1000)} s of wall time`
  report.warnings.push(`virtual time: profile ${profile.name}, ${replicas} replica${replicas === 1 ? '' : 's'}, simulated without HTTP; every latency is the engine model's${stopped}`)
  return { report, wallMs, virtualMs, speedup: wallMs > 0 ? virtualMs / wallMs : Number.POSITIVE_INFINITY, engine: engineStats }
}

function resolveProfile(p: Profile | string): StepProfile {
  const profile = typeof p === 'string' ? loadProfile(p) : parseProfile(p, `"${String((p as { name?: unknown })?.name)}"`)
  if (profile.engine === 'fixed') {
    throw new VirtualRunError(`virtual run profile "${profile.name}": the fixed engine is the server's; a virtual run needs a step profile (e.g. h100-llama3.1-8b-fp8)`)
  }
  return profile
}

function checkMode(o: VirtualRunOptions): 'open' | 'closed' {
  if (o.rate !== undefined && o.concurrency !== undefined) throw new VirtualRunError('virtual run: rate and concurrency are exclusive (open loop or closed loop)')
  if (o.concurrency !== undefined) {
    if (!(Number.isInteger(o.concurrency) && o.concurrency >= 1)) throw new VirtualRunError(`virtual run concurrency: must be a positive integer, got ${String(o.concurrency)}`)
    return 'closed'
  }
  if (!(typeof o.rate === 'number' && o.rate > 0 && Number.isFinite(o.rate))) {
    throw new VirtualRunError(`virtual run rate: must be a positive number of requests per second (or give concurrency), got ${String(o.rate)}`)
  }
  return 'open'
}
