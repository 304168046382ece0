import type { Clock } from '@loadmesh/clock'
import { createHeapAlarm, EventHeap } from '@loadmesh/sim-engine'
import type { HeapItem } from '@loadmesh/sim-engine'
import type { Engine, EngineFault, EngineStats, SimError, SimRequest, TokenSink } from './engine.ts'
import type { LatencyModel } from './latency-model.ts'
import { SimulatorConfigError } from './errors.ts'

/**
 * A timer this late is on time (setTimeout's millisecond granularity). A later one is a hiccup (a
 * GC, a burst of requests), and only a second late timer in a row means the simulator fell behind
 * (see `release`).
 */
const JITTER_MS = 2

/** vLLM's max_model_len for the Llama 3.1 family: what the fixed engine accepts unless told otherwise. */
export const DEFAULT_MAX_MODEL_LEN = 131_072

export interface FixedEngineOptions {
  clock: Clock
  latency: LatencyModel
  /** Tokens released per emission (the server's tokens per chunk); 1 = every token on its own. */
  tokensPerEmit?: number
  /** Largest prompt + output accepted; default 131072. */
  maxModelLen?: number
}

class Job implements HeapItem {
  /** When the next emission is due (absolute clock ms): the deadline of token `cursor`. */
  at = 0
  readonly tie: number
  heapIndex = -1
  readonly req: SimRequest
  readonly sink: TokenSink
  /** Tokens already handed to the sink. */
  emitted = 0
  /** Highest token index whose deadline is known, and that deadline. */
  cursor = 0
  cursorAt: number
  /** ITL drawn for token cursor + 1 but not yet applied (NaN: none). */
  peek = Number.NaN
  /** When the first token (or, for prefill-only requests, the end of the prefill) went out. */
  firstAt = Number.NaN
  done = false

  constructor(req: SimRequest, sink: TokenSink, tie: number, ttftAt: number) {
    this.req = req
    this.sink = sink
    this.tie = tie
    this.cursorAt = ttftAt
  }
}

/**
 * Independent requests with sampled latencies: no batching, no queueing, no load dependence.
 * The first token is due at arrival + ttft (an absolute deadline); each later token is due its
 * sampled ITL after the previous one was emitted, as in a server whose next decode step starts when
 * the previous one ends. So under light load an observed gap is never shorter than the sampled ITL
 * (no 9.5 ms / 10.5 ms alternation for a fixed 10 ms), and a single late timer (a hiccup) delays the
 * stream by its lateness without merging anything. When timers keep firing late (two ticks in a row
 * more than JITTER_MS late) the simulator is behind, not the model: every token due by then comes
 * out in one emission and the timeline is kept, as a real server's engine keeps generating while its
 * API process is busy (vLLM merges the pending outputs). The server then writes one bigger frame
 * instead of several, so an overloaded simulator still delivers the configured token rate (see
 * FrameFlusher).
 *
 * Every request's next emission sits in one deadline heap and a single clock timer is armed for
 * the earliest, so the cost is a heap operation per emission: no timer and no promise per token or
 * per request, whatever the number of open streams.
 *
 * Faults: a brownout multiplies the latencies drawn while it lasts; a stall holds every emission
 * due before its end (later gaps count from the release); a crash fails everything in flight with
 * 503 and refuses new requests until its restart window is over.
 */
export function createFixedEngine(opts: FixedEngineOptions): Engine {
  const { clock, latency } = opts
  const group = opts.tokensPerEmit ?? 1
  if (!Number.isInteger(group) || group < 1) {
    throw new SimulatorConfigError(`fixed engine: tokensPerEmit must be a positive integer, got ${String(opts.tokensPerEmit)}`)
  }
  const maxLen = opts.maxModelLen ?? DEFAULT_MAX_MODEL_LEN
  if (!Number.isInteger(maxLen) || maxLen < 2) {
    throw new SimulatorConfigError(`fixed engine: maxModelLen must be an integer >= 2, got ${String(opts.maxModelLen)}`)
  }
  const heap = new EventHeap<Job>()
  let active = 0
  let running = false
  let seq = 0
  let brownoutFactor = 1
  let brownoutUntil = Number.NEGATIVE_INFINITY
  let stallUntil = Number.NEGATIVE_INFINITY
  /** When the latest stall ended (or ends): deadlines that fell inside it restart from there. */
  let stallEnd = Number.NEGATIVE_INFINITY
  /** Timer callbacks in a row that ran more than JITTER_MS late. */
  let lateTicks = 0
  let downUntil = Number.NEGATIVE_INFINITY
  const counters = { promptTokens: 0, generationTokens: 0 }
  /** Jobs in flight, for stop() and crashes (the heap holds them too, but not while one is being released). */
  const jobs = new Set<Job>()

  const scaled = (ms: number): number => (clock.now() < brownoutUntil ? ms * brownoutFactor : ms)

  const advance = (job: Job): void => {
    const gap = Number.isNaN(job.peek) ? scaled(latency.itlMs(job.req, job.cursor + 1)) : job.peek
    job.peek = Number.NaN
    job.cursor++
    job.cursorAt += gap
  }

  /** Works out the deadline of the job's next group and puts it in the heap. */
  const schedule = (job: Job): void => {
    const last = Math.min(job.emitted + group, job.req.outputTokens) - 1
    while (job.cursor < last) advance(job)
    job.at = job.cursorAt
    heap.push(job)
  }

  const finish = (job: Job, now: number): void => {
    job.done = true
    jobs.delete(job)
    active--
    const first = Number.isNaN(job.firstAt) ? now : job.firstAt
    job.sink.onDone(job.req.finishReason, {
      queueMs: 0,
      prefillMs: first - job.req.arrivalAt,
      decodeMs: now - first,
      cachedPromptTokens: 0,
      preemptions: 0,
      replica: 0
    })
  }

  /** Releases the job's due tokens (it was just popped from the heap at `due`, clock reading `now`). */
  const release = (job: Job, now: number, due: number, behind: boolean): void => {
    const n = job.req.outputTokens
    if (Number.isNaN(job.firstAt)) {
      job.firstAt = now
      counters.promptTokens += job.req.promptTokens
    }
    if (n === 0) {
      finish(job, now)
      return
    }
    // The model made no progress during a stall: its timeline resumes at the stall's end.
    if (job.cursorAt < stallEnd && due >= stallEnd) job.cursorAt = stallEnd
    // Tokens with a zero ITL come out in the same emission; so does the backlog of a simulator behind.
    while (job.cursor + 1 < n) {
      if (Number.isNaN(job.peek)) job.peek = scaled(latency.itlMs(job.req, job.cursor + 1))
      if (behind ? job.cursorAt + job.peek > due : job.peek > 0) break
      advance(job)
    }
    const count = job.cursor + 1 - job.emitted
    job.emitted = job.cursor + 1
    // On time or a hiccup: the next step starts now, so later deadlines count from the actual emission.
    if (now > job.cursorAt && (!behind || now - job.cursorAt < JITTER_MS)) job.cursorAt = now
    counters.generationTokens += count
    job.sink.onTokens(count)
    if (job.done) return // cancelled from inside the sink
    if (job.emitted >= n) finish(job, now)
    else schedule(job)
  }

  const onTimer = (armed: number): void => {
    const now = clock.now()
    const due = Math.max(now, armed)
    if (due < stallUntil) return
    lateTicks = now - armed > JITTER_MS ? lateTicks + 1 : 0
    const behind = lateTicks >= 2
    for (let top = heap.peek(); top !== undefined && top.at <= due; top = heap.peek()) {
      heap.pop()
      release(top, now, due, behind)
    }
  }
  // A stall holds every deadline until it ends.
  const alarm = createHeapAlarm(clock, () => { const top = heap.peek(); return top === undefined ? undefined : Math.max(top.at, stallUntil) }, onTimer)
  const arm = alarm.arm

  const unavailable = (message: string, retryAfterS?: number): SimError =>
    ({ status: 503, type: 'service_unavailable', message, code: null, ...(retryAfterS === undefined ? {} : { retryAfterS }) })

  const failAll = (err: SimError): void => {
    const all = [...jobs]
    jobs.clear()
    heap.clear()
    active = 0
    for (const job of all) {
      job.done = true
      job.sink.onError(err)
    }
  }

  return {
    submit(req, sink) {
      if (!running) {
        sink.onError(unavailable('simulator engine is not running'))
        return () => {}
      }
      const generation = req.endpoint === '/v1/chat/completions' || req.endpoint === '/v1/completions'
      if (!(Number.isInteger(req.outputTokens) && req.outputTokens >= (generation ? 1 : 0))) {
        throw new SimulatorConfigError(`fixed engine: request ${req.id} outputTokens must be an integer >= ${generation ? 1 : 0} for ${req.endpoint}, got ${req.outputTokens}`)
      }
      const now = clock.now()
      if (now < downUntil) {
        sink.onError(unavailable(`replica 0 crashed; it restarts in ${Math.round(downUntil - now)} ms`, Math.max(1, Math.ceil((downUntil - now) / 1000))))
        return () => {}
      }
      const job = new Job(req, sink, seq++, req.arrivalAt + scaled(latency.ttftMs(req)))
      jobs.add(job)
      active++
      schedule(job)
      arm()
      return () => {
        if (job.done) return
        job.done = true
        jobs.delete(job)
        active--
        heap.remove(job)
        arm()
      }
    },
    start() { running = true },
    stop() {
      running = false
      alarm.reset()
      failAll(unavailable('simulator is shutting down'))
    },
    active: () => active,
    stats(): EngineStats {
      const up = clock.now() >= downUntil
      return {
        running: active,
        waiting: 0,
        kvCacheUsage: 0,
        preemptions: 0,
        prefixCacheQueries: 0,
        prefixCacheHits: 0,
        promptTokens: counters.promptTokens,
        generationTokens: counters.generationTokens,
        replicas: [{ up, running: active, waiting: 0, kvCacheUsage: 0 }]
      }
    },
    inject(fault: EngineFault) {
      const now = clock.now()
      const kind = (fault as { kind?: unknown }).kind
      if (fault.kind === 'brownout') {
        if (!(fault.factor > 0 && Number.isFinite(fault.factor))) throw new SimulatorConfigError(`fixed engine fault brownout: factor must be a positive number, got ${String(fault.factor)}`)
        if (!(fault.durationMs >= 0 && Number.isFinite(fault.durationMs))) throw new SimulatorConfigError(`fixed engine fault brownout: durationMs must be >= 0 (0 = until replaced), got ${String(fault.durationMs)}`)
        brownoutFactor = fault.factor
        brownoutUntil = fault.durationMs === 0 ? Number.POSITIVE_INFINITY : now + fault.durationMs
        return
      }
      if (fault.kind === 'stall') {
        if (!(fault.durationMs > 0 && Number.isFinite(fault.durationMs))) throw new SimulatorConfigError(`fixed engine fault stall: durationMs must be a positive number, got ${String(fault.durationMs)}`)
        if (fault.replica !== undefined && fault.replica !== 0) throw new SimulatorConfigError(`fixed engine fault stall: the fixed engine has one replica (0), got replica ${String(fault.replica)}`)
        stallUntil = Math.max(stallUntil, now + fault.durationMs)
        stallEnd = stallUntil
        // The armed timer may be due before the stall ends: move it.
        alarm.reset()
        arm()
        return
      }
      if (fault.kind === 'crash') {
        if (fault.replica !== 0) throw new SimulatorConfigError(`fixed engine fault crash: the fixed engine has one replica (0), got replica ${String(fault.replica)}`)
        if (!(fault.restartMs >= 0 && Number.isFinite(fault.restartMs))) throw new SimulatorConfigError(`fixed engine fault crash: restartMs must be >= 0, got ${String(fault.restartMs)}`)
        downUntil = now + fault.restartMs
        stallUntil = Number.NEGATIVE_INFINITY
        stallEnd = Number.NEGATIVE_INFINITY
        failAll(unavailable(`replica 0 crashed; it restarts in ${Math.round(fault.restartMs)} ms`, Math.max(1, Math.ceil(fault.restartMs / 1000))))
        arm()
        return
      }
      throw new SimulatorConfigError(`fixed engine fault: unknown kind ${JSON.stringify(kind)} (valid: brownout, stall, crash)`)
    },
    maxModelLen: () => maxLen
  }
}
