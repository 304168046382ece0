import type { Clock, Timer } from '@loadmesh/clock'
import type { Engine, SimRequest, TokenSink } from './engine.ts'
import type { LatencyModel } from './latency-model.ts'
import { SimulatorConfigError } from './errors.ts'

export interface FixedEngineOptions {
  clock: Clock
  latency: LatencyModel
  /** Tokens released per timer (the server's tokens per chunk); 1 = one timer per token. */
  tokensPerEmit?: number
}

interface Job {
  req: SimRequest
  sink: TokenSink
  /** Tokens already handed to the sink. */
  emitted: number
  /** Highest token index whose deadline is known, and that deadline (absolute clock ms). */
  cursor: number
  cursorAt: number
  /** ITL drawn for token cursor + 1 but not yet applied (NaN: none). */
  peek: number
  timer: Timer | undefined
}

/**
 * Independent requests with sampled latencies: no batching, no queueing, no load dependence.
 * The first token is due at arrival + ttft (an absolute deadline); each later token is due its
 * sampled ITL after the previous emission actually happened, as in a server whose next decode step
 * starts when the previous one ends. So an observed gap is never shorter than the sampled ITL: the
 * simulator's own timer lateness adds to it, it never borrows from the next gap (which would make
 * a fixed 10 ms ITL show up as 9.5 ms and 10.5 ms alternately). One timer per request is pending
 * at any time (one per group of `tokensPerEmit` tokens, not one per token).
 */
export function createFixedEngine(opts: FixedEngineOptions): Engine {
  const { clock, latency } = opts
  const group = opts.tokensPerEmit ?? 1
  if (!Number.isInteger(group) || group < 1) {
    throw new SimulatorConfigError(`fixed engine: tokensPerEmit must be a positive integer, got ${String(opts.tokensPerEmit)}`)
  }
  const jobs = new Set<Job>()
  let running = false

  const advance = (job: Job): void => {
    const gap = Number.isNaN(job.peek) ? latency.itlMs(job.req, job.cursor + 1) : job.peek
    job.peek = Number.NaN
    job.cursor++
    job.cursorAt += gap
  }

  const schedule = (job: Job): void => {
    const last = Math.min(job.emitted + group, job.req.outputTokens) - 1
    while (job.cursor < last) advance(job)
    job.timer = clock.setTimer(() => { fire(job) }, job.cursorAt - clock.now())
  }

  const fire = (job: Job): void => {
    job.timer = undefined
    // The timer stands for the group ending at `cursor`; it is released even if the timer fired a
    // fraction of a millisecond early (setTimeout granularity).
    const now = clock.now()
    const n = job.req.outputTokens
    // Tokens with a zero ITL come out in the same emission.
    while (job.cursor + 1 < n) {
      if (Number.isNaN(job.peek)) job.peek = latency.itlMs(job.req, job.cursor + 1)
      if (job.peek > 0) break
      advance(job)
    }
    const count = job.cursor + 1 - job.emitted
    job.emitted = job.cursor + 1
    // The next step starts now: later deadlines count from the actual emission.
    if (now > job.cursorAt) job.cursorAt = now
    job.sink.onTokens(count)
    if (!jobs.has(job)) return // cancelled from inside the sink
    if (job.emitted >= n) {
      jobs.delete(job)
      job.sink.onDone(job.req.finishReason)
      return
    }
    schedule(job)
  }

  return {
    submit(req, sink) {
      if (!running) {
        sink.onError({ status: 503, type: 'service_unavailable', message: 'simulator engine is not running', code: null })
        return () => {}
      }
      if (!(Number.isInteger(req.outputTokens) && req.outputTokens >= 1)) {
        throw new SimulatorConfigError(`fixed engine: request ${req.id} outputTokens must be a positive integer, got ${req.outputTokens}`)
      }
      const job: Job = {
        req,
        sink,
        emitted: 0,
        cursor: 0,
        cursorAt: req.arrivalAt + latency.ttftMs(req),
        peek: Number.NaN,
        timer: undefined
      }
      jobs.add(job)
      schedule(job)
      return () => {
        if (jobs.delete(job)) job.timer?.cancel()
      }
    },
    start() { running = true },
    stop() {
      running = false
      const all = [...jobs]
      jobs.clear()
      for (const job of all) {
        job.timer?.cancel()
        job.sink.onError({ status: 503, type: 'service_unavailable', message: 'simulator is shutting down', code: null })
      }
    },
    active: () => jobs.size
  }
}
