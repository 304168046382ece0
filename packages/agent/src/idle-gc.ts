import type { Clock } from '@loadmesh/clock'
import type { IdleWork } from '@loadmesh/injector'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * Garbage collection kept off an open loop's due times.
 *
 * 1. Young-generation collections (scavenges) are taken in the schedule's gaps. V8 scavenges when
 *    the young generation is full, wherever the program is. Measured on the replay of the Azure
 *    trace at --speedup 60 (client alone on one core): every scavenge paused the main thread
 *    1.8-3.1 ms although only 0.15-0.3 MB survived (copying, then sweeping the young ArrayBuffers
 *    of the requests sent), so each one that fell on a due time broke the 2 ms bound; V8's
 *    --single-threaded-gc was no faster. A scheduler knows when its next send is due: once the
 *    young generation is past `fill` of its capacity and the gap to the next send has room for a
 *    scavenge (its measured cost plus a margin), one is run right there, and V8's own
 *    allocation-triggered scavenge never comes. Measured: all of the replay's scavenges ran in
 *    gaps, none at a due time.
 * 2. V8's memory reducer is held off while the loop runs. It starts an incremental mark-compact
 *    when the allocation rate looks low (steps of up to 16-20 ms, then a 30-57 ms pause, measured
 *    near the end of a replay), and the full collection that settles the heap before the run is
 *    what arms it. It can only start when incremental marking may start, so `begin()` turns V8's
 *    --incremental-marking off (a flag V8 reads at each start, measured to keep the reducer
 *    waiting) and `end()` turns it back on. A run whose old generation grows by more than
 *    `releaseAfterBytes` gets it back at once (`tick()`, once a second), so a long run never
 *    trades V8's incremental major collections for atomic ones; the replay grows ~2 MB a minute.
 *
 * Only the open loop's gaps take part (it calls `drain()` after each batch of sends); with a closed
 * loop, or when no gap is ever long enough, no scavenge is forced and the heap is not probed.
 */
export interface IdleGcOptions {
  clock: Clock
  /**
   * Fraction of the young generation's capacity in use past which a gap is used (default 0.7:
   * below V8's own 80% trigger for a scavenge task, which would run at any time, and late enough
   * not to scavenge much more often than V8 would).
   */
  fill?: number
  /** What a scavenge is assumed to cost until one has been measured (default 3 ms). */
  initialCostMs?: number
  /** Slack kept free on top of the expected cost (default 1 ms). */
  marginMs?: number
  /** Least time between two looks at the young generation (default 10 ms): a look costs ~5 µs. */
  probeEveryMs?: number
  /** Old-generation growth after which the memory-reducer hold is released (default 32 MB). */
  releaseAfterBytes?: number
  /** Heap use (tests); default: V8's new_space and old_space. */
  probe?: () => HeapUse
  /** Runs a young-generation collection (tests); default: V8's, null when it cannot be had. */
  collect?: (() => void) | null
  /** Turns V8's incremental marking on or off (tests); null: never hold the memory reducer. */
  setIncrementalMarking?: ((on: boolean) => void) | null
}

export interface HeapUse {
  /** Young generation: bytes in use and its current capacity. */
  youngUsed: number
  youngCapacity: number
  /** Old generation: bytes in use. */
  oldUsed: number
}

export interface IdleGcStats {
  /** Scavenges run in gaps. */
  collections: number
  /** Longest and total time they took, ms. */
  maxMs: number
  totalMs: number
  /** The memory reducer is held off right now. */
  holding: boolean
}

export interface IdleGc {
  /**
   * Wraps the run's idle queue for an open loop: the loop hands the wrapper its slack function
   * and calls its `drain()` after each batch of sends; the wrapper drains the queue, then uses
   * what is left of the gap.
   */
  wrap(idle: IdleWork): IdleWork
  /** Holds the memory reducer off, from just before the first due time. */
  begin(): void
  /** Releases the hold when the old generation has grown past the limit (call about once a second). */
  tick(): void
  /** Releases the hold (idempotent). */
  end(): void
  stats(): IdleGcStats
}

export function createIdleGc(o: IdleGcOptions): IdleGc {
  const { clock } = o
  const fill = o.fill ?? 0.7
  const marginMs = o.marginMs ?? 1
  const probeEveryMs = o.probeEveryMs ?? 10
  const releaseAfter = o.releaseAfterBytes ?? 32 * 1024 * 1024
  const probe = o.probe ?? heapUse
  const collect = o.collect === undefined ? minorCollector() : o.collect
  const setMarking = o.setIncrementalMarking !== undefined ? o.setIncrementalMarking : givenToNode('incremental-marking') ? null : v8IncrementalMarking
  for (const [k, v] of [['fill', fill], ['marginMs', marginMs], ['probeEveryMs', probeEveryMs], ['initialCostMs', o.initialCostMs ?? 3], ['releaseAfterBytes', releaseAfter]] as const) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`createIdleGc: ${k} ${v} must be a finite number >= 0`)
  }
  // The room a gap needs follows the measured cost: the largest recent one, halving every 10 s
  // since, so that one slow scavenge (the machine took the core meanwhile) does not rule out every
  // gap for the rest of the run.
  let costMs = o.initialCostMs ?? 3
  let costAt = clock.now()
  const expectedMs = (now: number): number => costMs * 0.5 ** (Math.max(0, now - costAt) / 10_000)
  let lastProbe = Number.NEGATIVE_INFINITY
  let holding = false
  let oldAtBegin = 0
  const stats = { collections: 0, maxMs: 0, totalMs: 0 }

  const maybeCollect = (slack: () => number): void => {
    if (collect === null) return
    const now = clock.now()
    if (now - lastProbe < probeEveryMs) return
    const expected = expectedMs(now)
    if (slack() < expected + marginMs) return
    lastProbe = now
    const y = probe()
    if (!(y.youngUsed > fill * y.youngCapacity)) return
    collect()
    const took = clock.now() - now
    stats.collections++
    stats.totalMs += took
    if (took > stats.maxMs) stats.maxMs = took
    costMs = Math.max(took, expected * 0.9)
    costAt = now
  }

  const release = (): void => {
    if (!holding) return
    holding = false
    if (setMarking !== null) releaseHold(setMarking)
  }

  return {
    wrap(idle) {
      let slack: (() => number) | null = null
      return {
        defer: (job, cost) => idle.defer(job, cost),
        flush: () => idle.flush(),
        get pending () { return idle.pending },
        setSlack(s) {
          slack = s
          idle.setSlack(s)
        },
        drain() {
          idle.drain()
          if (slack !== null) maybeCollect(slack)
        },
        close: () => idle.close()
      }
    },
    begin() {
      if (holding || setMarking === null) return
      holding = true
      oldAtBegin = probe().oldUsed
      takeHold(setMarking)
    },
    tick() {
      if (holding && probe().oldUsed - oldAtBegin > releaseAfter) release()
    },
    end: release,
    stats: () => ({ ...stats, holding })
  }
}

// Runs in one process share V8's flags: the marking stays off while any of them holds it.
let holds = 0

function takeHold(set: (on: boolean) => void): void {
  if (holds++ === 0) set(false)
}

function releaseHold(set: (on: boolean) => void): void {
  if (--holds === 0) set(true)
}

/** A V8 flag the user gave node (command line or NODE_OPTIONS) is left as given. */
function givenToNode(flag: string): boolean {
  const norm = (a: string): string => a.replace(/_/g, '-').split('=')[0]
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => {
    const n = norm(a)
    return n === `--${flag}` || n === `--no-${flag}`
  })
}

function v8IncrementalMarking(on: boolean): void {
  setFlagsFromString(on ? '--incremental-marking' : '--no-incremental-marking')
}

function heapUse(): HeapUse {
  let youngUsed = 0
  let youngCapacity = 1
  let oldUsed = 0
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name === 'new_space') {
      youngUsed = s.space_used_size
      youngCapacity = s.space_used_size + s.space_available_size
    } else if (s.space_name === 'old_space') {
      oldUsed = s.space_used_size
    }
  }
  return { youngUsed, youngCapacity, oldUsed }
}

/**
 * Runs `start` (which creates the precise alarm's helper thread) with V8's memory reducer off for
 * the isolates created meanwhile. The flag is read when an isolate's heap is set up, so this
 * reaches the helper's isolate only: measured, its reducer ran a 5-12 ms mark-compact near the end
 * of a replay, during which no alarm rang. Its heap stays at a few MB.
 */
export async function withoutMemoryReducer<T>(start: () => Promise<T>): Promise<T> {
  if (givenToNode('memory-reducer')) return await start()
  setFlagsFromString('--no-memory-reducer')
  try {
    return await start()
  } finally {
    setFlagsFromString('--memory-reducer')
  }
}

let cachedMinor: (() => void) | null | undefined

/**
 * V8's `gc({ type: 'minor' })` (a scavenge), obtained as settleHeap obtains `gc`: --expose-gc is on
 * just long enough to create one context that has it, so no other code sees a `gc` global.
 */
function minorCollector(): (() => void) | null {
  if (cachedMinor !== undefined) return cachedMinor
  let gc: unknown = (globalThis as { gc?: unknown }).gc
  if (typeof gc !== 'function') {
    try {
      setFlagsFromString('--expose-gc')
      gc = runInNewContext('typeof gc === "function" ? gc : null')
    } catch {
      gc = null
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
  }
  const f = typeof gc === 'function' ? gc as (opts: { type: 'minor' }) => void : null
  cachedMinor = f === null ? null : () => f({ type: 'minor' })
  return cachedMinor
}
