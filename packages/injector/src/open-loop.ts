import type { Clock } from '@loadmesh/clock'
import type { IdleWork } from './idle-work.ts'
import type { LoopResult } from './loop-result.ts'
import { ScheduleError } from './schedule-error.ts'
import { createWaker } from './waker.ts'

export interface OpenLoopOptions {
  clock: Clock
  /** Start of the schedule (clock time). The first request is due at startAt + the first gap. */
  startAt: number
  /** Requests are due only before startAt + durationMs. */
  durationMs: number
  /** The arrival process: the gap in ms to the next request (>= 0). */
  nextGapMs: () => number
  /** A request due while this many are in flight is dropped (counted, never delayed). */
  maxInFlight: number
  /** Stop after this many requests came due (fired + dropped). */
  maxRequests?: number
  /** Sends the request; latency is measured from `intendedAt`. Rejections are ignored. */
  fire: (intendedAt: number) => Promise<unknown>
  onScheduled?: (intendedAt: number) => void
  onDropped?: (intendedAt: number) => void
  /** Stops scheduling; the loop still waits for in-flight requests. */
  signal?: AbortSignal
  /**
   * With a clock other than the system clock: how long before a due time the loop stops sleeping
   * on a timer and polls (default 2 ms). The system clock uses a precise alarm instead (waker.ts).
   */
  spinMs?: number
  /**
   * Bookkeeping to run in the slack between due sends (idle-work.ts): the loop reports the time
   * to its next due send and drains the queue right after each batch of sends.
   */
  idle?: IdleWork
  /**
   * Asked just before the first due time: if true, the loop meets it by blocking its thread for
   * the last ~2 ms rather than through the alarm thread (waker.ts, blockUntil). For a start that
   * many processes meet at once (a mesh plan's T0); say no while other requests are in flight,
   * whose responses would wait behind the block.
   */
  blockFirst?: () => boolean
}

/**
 * Open-loop (arrival-rate) load: requests are due at startAt + cumulative gaps, whatever the
 * server does. Due times come from the schedule, never from when the loop woke, so late timers
 * cause no drift; a late wake fires every request that came due meanwhile, each with its own
 * intended time, so the delay shows up as schedule lag and in latency instead of vanishing
 * (no coordinated omission). A request due while `maxInFlight` are outstanding is dropped and
 * counted, not queued: queueing it would hide overload.
 *
 * Resolves once scheduling has ended (duration passed, maxRequests reached, or aborted) and every
 * fired request has settled.
 */
export function runOpenLoop(o: OpenLoopOptions): Promise<LoopResult> {
  const bad = validate(o)
  if (bad !== null) return Promise.reject(new ScheduleError(`open loop: ${bad}`))
  const { clock, fire, maxInFlight, onScheduled, onDropped, signal, idle } = o
  const endAt = o.startAt + o.durationMs
  const maxRequests = o.maxRequests ?? Number.POSITIVE_INFINITY

  return new Promise<LoopResult>((resolve, reject) => {
    let scheduled = 0
    let fired = 0
    let dropped = 0
    let inFlight = 0
    let scheduling = true
    let waitForEnd = false
    let settledAll = false
    let failure: Error | null = null
    let next = Number.NaN

    const waker = createWaker(clock, tick, { spinMs: o.spinMs })

    function gap(): number {
      const g = o.nextGapMs()
      if (!(g >= 0) || !Number.isFinite(g)) throw new ScheduleError(`open loop: nextGapMs returned ${g}; gaps must be finite and >= 0`)
      return g
    }

    function stopScheduling(): void {
      scheduling = false
      waker.cancel()
      // Nothing is due any more: deferred bookkeeping need not wait.
      idle?.drain()
    }

    function settle(): void {
      inFlight--
      maybeDone()
    }

    function launch(t: number): void {
      inFlight++
      fired++
      let p: Promise<unknown>
      try {
        p = fire(t)
      } catch {
        settle()
        return
      }
      Promise.resolve(p).then(settle, settle)
    }

    function maybeDone(): void {
      if (settledAll || scheduling || waitForEnd || inFlight > 0) return
      settledAll = true
      waker.close()
      idle?.setSlack(null)
      signal?.removeEventListener('abort', onAbort)
      if (failure !== null) reject(failure)
      else resolve({ scheduled, fired, dropped })
    }

    function tick(): void {
      if (settledAll) return
      const now = clock.now()
      if (waitForEnd) {
        if (now >= endAt) { waitForEnd = false; maybeDone() } else waker.wakeAt(endAt)
        return
      }
      if (!scheduling) return
      try {
        while (next <= now && next < endAt && scheduled < maxRequests && scheduling) {
          const t = next
          scheduled++
          onScheduled?.(t)
          if (inFlight >= maxInFlight) {
            dropped++
            onDropped?.(t)
          } else {
            launch(t)
          }
          next = t + gap()
        }
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err))
        stopScheduling()
        maybeDone()
        return
      }
      if (!scheduling) return
      if (scheduled >= maxRequests) {
        stopScheduling()
        maybeDone()
      } else if (next >= endAt) {
        // The schedule is exhausted, but the run lasts its full duration: a rate window that
        // ended early would overstate the achieved rate.
        stopScheduling()
        waitForEnd = now < endAt
        if (waitForEnd) waker.wakeAt(endAt)
        else maybeDone()
      } else {
        waker.wakeAt(next)
        // Everything due is sent and the alarm is armed: the rest of the gap is slack.
        idle?.drain()
      }
    }

    function onAbort(): void {
      if (settledAll) return
      stopScheduling()
      waitForEnd = false
      maybeDone()
    }

    if (signal?.aborted === true) {
      scheduling = false
      maybeDone()
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    idle?.setSlack(() => scheduling ? next - clock.now() : Number.POSITIVE_INFINITY)
    try {
      next = o.startAt + gap()
    } catch (err) {
      failure = err as Error
      scheduling = false
      maybeDone()
      return
    }
    waker.wakeAt(Math.min(next, endAt), o.blockFirst)
  })
}

function validate(o: OpenLoopOptions): string | null {
  if (!Number.isFinite(o.startAt)) return `startAt ${o.startAt} must be a finite clock time`
  if (!(o.durationMs >= 0) || !Number.isFinite(o.durationMs)) return `durationMs ${o.durationMs} must be finite and >= 0`
  if (!Number.isInteger(o.maxInFlight) || o.maxInFlight < 1) return `maxInFlight ${o.maxInFlight} must be an integer >= 1`
  if (o.maxRequests !== undefined && !(o.maxRequests >= 0)) return `maxRequests ${o.maxRequests} must be >= 0`
  if (o.spinMs !== undefined && !(o.spinMs >= 0)) return `spinMs ${o.spinMs} must be >= 0`
  return null
}
