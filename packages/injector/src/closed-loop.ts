import type { Clock } from '@loadmesh/clock'
import type { LoopResult } from './loop-result.ts'
import { ScheduleError } from './schedule-error.ts'
import { createWaker } from './waker.ts'

export interface ClosedLoopOptions {
  clock: Clock
  /** All workers start at this clock time. */
  startAt: number
  /** Workers start new requests only before startAt + durationMs. */
  durationMs: number
  /** Number of workers, each with one request outstanding. */
  concurrency: number
  /** Stop after this many requests were fired in total. */
  maxRequests?: number
  /** Sends the request; `intendedAt` is when the worker became free. Rejections are ignored. */
  fire: (intendedAt: number) => Promise<unknown>
  /** Stops new requests; the loop still waits for in-flight ones. */
  signal?: AbortSignal
  /** As in the open loop: meet startAt by blocking the thread for its last ~2 ms, if still true then. */
  blockFirst?: () => boolean
}

/**
 * Closed-loop (concurrency) load: `concurrency` workers, each firing its next request when the
 * previous one settles. The intended time of a request is the moment its worker became free, so
 * any delay before the send shows up as schedule lag.
 *
 * The next request is started on the following event-loop turn (clock.setImmediate), not from the
 * settling promise's callback: a target that fails instantly would otherwise keep the loop in
 * microtasks and starve all I/O and timers.
 */
export function runClosedLoop(o: ClosedLoopOptions): Promise<LoopResult> {
  const bad = validate(o)
  if (bad !== null) return Promise.reject(new ScheduleError(`closed loop: ${bad}`))
  const { clock, fire, signal } = o
  const endAt = o.startAt + o.durationMs
  const maxRequests = o.maxRequests ?? Number.POSITIVE_INFINITY

  return new Promise<LoopResult>((resolve) => {
    let fired = 0
    let inFlight = 0
    let stopped = false
    let done = false

    function canFire(now: number): boolean {
      return !stopped && now < endAt && fired < maxRequests
    }

    function launch(t: number): void {
      inFlight++
      fired++
      let p: Promise<unknown>
      try {
        p = fire(t)
      } catch {
        freed()
        return
      }
      Promise.resolve(p).then(freed, freed)
    }

    function freed(): void {
      const t = clock.now()
      if (!canFire(t)) { inFlight--; maybeDone(); return }
      // The worker stays counted in flight across the hop to the next turn.
      clock.setImmediate(() => {
        if (!canFire(clock.now())) { inFlight--; maybeDone(); return }
        inFlight--
        launch(t)
      })
    }

    function maybeDone(): void {
      // Once started, a worker is always in flight or hopping to its next request, so no request
      // in flight means every worker has quit.
      if (done || inFlight > 0 || (!started && !stopped)) return
      done = true
      waker.close()
      signal?.removeEventListener('abort', onAbort)
      resolve({ scheduled: fired, fired, dropped: 0 })
    }

    let started = false
    const waker = createWaker(clock, () => {
      started = true
      const now = clock.now()
      for (let i = 0; i < o.concurrency && canFire(now); i++) launch(o.startAt)
      maybeDone()
    }, { precise: false })

    function onAbort(): void {
      stopped = true
      waker.cancel()
      maybeDone()
    }

    if (signal?.aborted === true) { stopped = true; maybeDone(); return }
    signal?.addEventListener('abort', onAbort, { once: true })
    waker.wakeAt(o.startAt, o.blockFirst)
  })
}

function validate(o: ClosedLoopOptions): string | null {
  if (!Number.isFinite(o.startAt)) return `startAt ${o.startAt} must be a finite clock time`
  if (!(o.durationMs >= 0) || !Number.isFinite(o.durationMs)) return `durationMs ${o.durationMs} must be finite and >= 0`
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) return `concurrency ${o.concurrency} must be an integer >= 1`
  if (o.maxRequests !== undefined && !(o.maxRequests >= 0)) return `maxRequests ${o.maxRequests} must be >= 0`
  return null
}
