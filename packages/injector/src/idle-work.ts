import type { Clock, Timer } from '@loadmesh/clock'

/**
 * Bookkeeping that must happen but can wait a little (recording results, counting sends, the live
 * panel), run in the slack between due sends so that it never delays one.
 *
 * Why: JavaScript cannot preempt a running task, so any synchronous work on the main thread that
 * is running when a request comes due delays it by the rest of that work. Per result the recorder
 * costs microseconds, but a few of its calls cost milliseconds: the first event of each 1 s window
 * (it encodes the window before last and allocates the new one's histograms: 2-5 ms measured in a
 * run, where that once-a-second code never gets optimised) and the live view behind the progress
 * panel (merging and decoding five windows: 1-9 ms). At 1,000 req/s Poisson a send is due every
 * millisecond on average, so each such task delays the requests that come due while it runs.
 *
 * A scheduler tells the queue how long it has until its next due send (`setSlack`) and calls
 * `drain()` right after sending what was due; jobs then run, oldest first, only while their
 * expected cost fits in the slack. Without a scheduler (before and after the schedule, or with a
 * closed loop) the slack is unlimited and jobs run on the next turn of the event loop. A job never
 * waits more than `maxDelayMs`: past that it runs even without slack (a rate too high for any
 * slack must still record its results), a few at a time so due sends are not starved.
 */
export interface IdleWork {
  /**
   * Queues `job`. `costMs` is what it is expected to take (default 0.05 ms): the queue waits for
   * at least that much slack (plus a margin) before running it. Jobs run in the order queued.
   */
  defer(job: () => void, costMs?: number): void
  /** Runs every queued job now. Throws the first error a job threw (the rest still ran). */
  flush(): void
  /** Jobs waiting. */
  readonly pending: number
  /**
   * For schedulers: `slack()` returns the ms until the next due send (Infinity when none is
   * coming); null when no scheduler is running.
   */
  setSlack(slack: (() => number) | null): void
  /** For schedulers: runs the jobs that fit in the current slack (call it right after sending). */
  drain(): void
  /** Stops the queue's own wake-ups; queued jobs stay until `flush`. */
  close(): void
}

export interface IdleWorkOptions {
  /** Longest a job waits for slack before it runs anyway (default 500 ms). */
  maxDelayMs?: number
  /** Slack kept free on top of a job's expected cost (default 0.25 ms). */
  marginMs?: number
  /** Most time one forced turn (jobs past maxDelayMs, no slack) spends before yielding (default 0.5 ms). */
  forcedTurnMs?: number
}

export function createIdleWork(clock: Clock, opts: IdleWorkOptions = {}): IdleWork {
  return new IdleQueue(clock, opts)
}

const DEFAULT_COST_MS = 0.05

class IdleQueue implements IdleWork {
  private readonly clock: Clock
  private readonly maxDelayMs: number
  private readonly marginMs: number
  private readonly forcedTurnMs: number
  // Parallel arrays consumed from `head` (compacted now and then) instead of shift(), which is O(n).
  private jobs: Array<() => void> = []
  private costs: number[] = []
  private queuedAt: number[] = []
  private head = 0
  private slack: (() => number) | null = null
  private wake: Timer | null = null
  /** `wake` is an immediate (not the age timer). */
  private wakeIsSoon = false
  private draining = false
  private closed = false
  private firstError: unknown = undefined
  private failed = false

  constructor(clock: Clock, o: IdleWorkOptions) {
    this.clock = clock
    this.maxDelayMs = o.maxDelayMs ?? 500
    this.marginMs = o.marginMs ?? 0.25
    this.forcedTurnMs = o.forcedTurnMs ?? 0.5
    for (const [k, v] of [['maxDelayMs', this.maxDelayMs], ['marginMs', this.marginMs], ['forcedTurnMs', this.forcedTurnMs]] as const) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`createIdleWork: ${k} ${v} must be a finite number >= 0`)
    }
  }

  get pending(): number {
    return this.jobs.length - this.head
  }

  defer(job: () => void, costMs = DEFAULT_COST_MS): void {
    this.jobs.push(job)
    this.costs.push(costMs)
    this.queuedAt.push(this.clock.now())
    this.wakeSoon()
  }

  setSlack(slack: (() => number) | null): void {
    this.slack = slack
    if (slack === null && this.pending > 0) this.wakeSoon()
  }

  drain(): void {
    if (this.draining || this.pending === 0) return
    this.draining = true
    let forcedSince = Number.NaN
    try {
      while (this.head < this.jobs.length) {
        const now = this.clock.now()
        const slack = this.slack === null ? Number.POSITIVE_INFINITY : this.slack()
        if (slack < this.costs[this.head] + this.marginMs) {
          // No room: only a job that has waited too long runs, and only for a short turn.
          if (now - this.queuedAt[this.head] < this.maxDelayMs) break
          if (Number.isNaN(forcedSince)) forcedSince = now
          else if (now - forcedSince >= this.forcedTurnMs) break
        }
        this.runNext()
      }
    } finally {
      this.draining = false
      this.compact()
    }
    if (this.pending > 0) this.wakeLater()
  }

  flush(): void {
    this.cancelWake()
    const wasDraining = this.draining
    this.draining = true
    try {
      while (this.head < this.jobs.length) this.runNext()
    } finally {
      this.draining = wasDraining
      this.compact()
    }
    if (this.failed) {
      const err = this.firstError
      this.failed = false
      this.firstError = undefined
      throw err
    }
  }

  close(): void {
    this.closed = true
    this.cancelWake()
  }

  private runNext(): void {
    const job = this.jobs[this.head]
    this.head++
    try {
      job()
    } catch (err) {
      if (!this.failed) { this.failed = true; this.firstError = err }
    }
  }

  private compact(): void {
    if (this.head === 0) return
    if (this.head === this.jobs.length) {
      this.jobs = []
      this.costs = []
      this.queuedAt = []
    } else if (this.head > 1024 && this.head * 2 > this.jobs.length) {
      this.jobs = this.jobs.slice(this.head)
      this.costs = this.costs.slice(this.head)
      this.queuedAt = this.queuedAt.slice(this.head)
    } else {
      return
    }
    this.head = 0
  }

  /** Next turn of the event loop: after the I/O that queued the job, before any timer. */
  private wakeSoon(): void {
    if (this.closed || this.draining) return
    if (this.wake !== null) {
      if (this.wakeIsSoon) return
      // Only the age timer is pending: bring it forward if the jobs could run now (the scheduler
      // stopped, or left slack), else the scheduler's next drain() comes sooner anyway.
      if (this.slack !== null && this.slack() < this.costs[this.head] + this.marginMs) return
      this.wake.cancel()
    }
    this.wake = this.clock.setImmediate(this.onWake)
    this.wakeIsSoon = true
  }

  /**
   * Jobs left without slack: a running scheduler calls drain() after its next send anyway, so
   * this wake-up only enforces the age limit (and covers a scheduler that stopped calling).
   */
  private wakeLater(): void {
    if (this.closed || this.wake !== null) return
    const ageLeft = this.maxDelayMs - (this.clock.now() - this.queuedAt[this.head])
    // Overdue jobs remain after a forced turn: yield one turn so due sends (alarm messages,
    // timers) go first, then continue.
    this.wakeIsSoon = ageLeft <= 0
    this.wake = this.wakeIsSoon ? this.clock.setImmediate(this.onWake) : this.clock.setTimer(this.onWake, ageLeft)
  }

  private cancelWake(): void {
    if (this.wake !== null) { this.wake.cancel(); this.wake = null }
  }

  private readonly onWake = (): void => {
    this.wake = null
    this.drain()
  }
}
