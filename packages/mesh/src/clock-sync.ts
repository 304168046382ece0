import type { Libp2p } from 'libp2p'
import type { Clock } from '@loadmesh/clock'

/**
 * Clock probes: NTP's four timestamps over a direct stream, `/loadmesh/<mesh>/clock/1.0.0`.
 *
 * The requester opens one stream and sends a few probes back to back, one at a time (a round); the
 * responder answers each at once with its wall clock when the probe arrived (t2) and when the answer leaves
 * (t3). The requester stamps each probe as it sends it (t1) and the answer as it arrives (t4):
 * offset = ((t2 - t1) + (t3 - t4)) / 2, round trip = (t4 - t1) - (t3 - t2), and the offset's error is
 * at most half the round trip (whatever the path asymmetry). Stream negotiation happens before the
 * first t1, so it is in no sample. The stream stays open between rounds (the requester keeps one per
 * peer): opening and closing a stream was two thirds of a round's CPU (~6 of 9 ms, both sides,
 * measured at 16 agents), and a mesh probes every peer every ~30 s. The responder closes a stream
 * left idle for `idleMs`.
 *
 * Why not inside gossip: a heartbeat is stamped when it is built, then signed, queued and relayed
 * by gossipsub, and stamped again on the other side after decoding and verification, on an event
 * loop that may be busy with anything; those milliseconds land in the sample. Here the stamps are
 * taken in the stream's 'message' handler and right before `send`, nothing in between.
 *
 * Frames have a fixed size (no length prefix), big-endian:
 *   probe (requester → responder), 4 bytes:  u8 version (1), u8 kind (1), u16 seq
 *   reply (responder → requester), 20 bytes: u8 version (1), u8 kind (2), u16 seq, f64 t2, f64 t3
 * Anything else (another version or kind, a reply to a probe not sent, a non-finite time, more
 * than MAX_CLOCK_PROBES probes within a second) aborts the stream; the caller counts it.
 */

type Stream = Awaited<ReturnType<Libp2p['dialProtocol']>>

export const CLOCK_SYNC_VERSION = 1
const PROBE = 1
const REPLY = 2
const PROBE_BYTES = 4
const REPLY_BYTES = 20
/** Probes one round may have, and one stream may carry within PROBE_WINDOW_MS (a round takes a few ms). */
export const MAX_CLOCK_PROBES = 16
/** The responder's budget window: a requester's rounds on one stream come at least this far apart. */
export const PROBE_WINDOW_MS = 1000

/** The stream protocol of one mesh (the mesh name keeps two meshes sharing a swarm key apart). */
export function clockProtocol(meshName: string): string {
  return `/loadmesh/${meshName}/clock/1.0.0`
}

/** One exchange, in wall-clock ms: t1 probe sent, t2 probe received, t3 reply sent (theirs), t4 reply received. */
export interface ClockProbe {
  t1: number
  t2: number
  t3: number
  t4: number
}

export class ClockSyncError extends Error {
  override name = 'ClockSyncError'
  readonly code = 'ERR_CLOCK_SYNC'
}

/**
 * A wall clock with sub-millisecond resolution: the monotonic clock plus (wall − monotonic).
 *
 * `Date.now()` is whole milliseconds, truncated: a timestamp read from it is up to 1 ms early (0.5 ms
 * on average), as large as the whole error budget of a loopback probe. So the difference is taken
 * at the instant the wall clock's millisecond ticks over (spinning up to 2.5 ms for an edge), where
 * the wall clock is exact. How exact depends on how closely the spin saw the edge (its "gap"): a
 * few µs on an idle core, up to a whole ms when preemption stretches every edge (16 agents on 2
 * cores, all calibrating as a plan arrives). So the tightest estimate is kept, a loose one is
 * re-taken every `retryMs` until one is tight, and a tight one every `refreshMs` only to notice a
 * step of the wall clock. Nothing else moves the difference on Linux: NTP slews CLOCK_MONOTONIC
 * (performance.now()) exactly as it slews the wall clock; a drift allowance covers other systems.
 * A clock whose readings do not move while spinning (a manual test clock) gets the plain difference.
 */
export interface PreciseWall {
  /** Wall-clock ms, sub-millisecond. Never spins: stamps taken with it are not delayed by it. */
  now(): number
  /** Re-takes the wall − monotonic difference when it is due (may spin up to 2.5 ms). */
  refresh(): void
  /** How far the kept difference may be off, ms: its edge's gap plus the drift allowance since. */
  uncertaintyMs(): number
}

/** A calibration this tight is kept until `refreshMs`; a looser one is re-taken every `retryMs`. */
const TIGHT_GAP_MS = 0.05
/** Wall − monotonic drift allowed for, per ms (1 ppm; 0 on Linux, where both are slewed alike). */
const DRIFT_PER_MS = 1e-6
/** A new estimate this much further off than both bounds allow means the wall clock was stepped. */
const STEP_MS = 0.5

export interface PreciseWallOptions {
  refreshMs?: number
  retryMs?: number
}

export function createPreciseWall(clock: Pick<Clock, 'now' | 'wallNow'>, options: PreciseWallOptions = {}): PreciseWall {
  const refreshMs = options.refreshMs ?? 10_000
  const retryMs = options.retryMs ?? 250
  let offset = 0
  let gap = Number.POSITIVE_INFINITY
  let at = Number.NEGATIVE_INFINITY
  let triedAt = Number.NEGATIVE_INFINITY
  const bound = (now: number): number => gap + Math.max(0, now - at) * DRIFT_PER_MS
  const wall: PreciseWall = {
    now: () => clock.now() + offset,
    refresh() {
      const now = clock.now()
      const since = now - triedAt
      // (A monotonic reading going back means another clock was swapped in: measure.)
      if (since >= 0 && since < (gap <= TIGHT_GAP_MS ? refreshMs : retryMs)) return
      triedAt = now
      const m = measureWallMinusMonotonic(clock)
      const kept = bound(now)
      const stepped = Math.abs(m.offset - offset) > m.gap + kept + STEP_MS
      if (m.gap <= kept || stepped) {
        offset = m.offset
        gap = m.gap
        at = clock.now()
      }
    },
    uncertaintyMs: () => bound(clock.now())
  }
  wall.refresh()
  return wall
}

const shared = new WeakMap<object, PreciseWall>()

/**
 * The one PreciseWall of `clock` in this process. Everything that turns wall time into monotonic
 * time (clock probes, a plan's T0) should map it the same way: two calibrations disagree by up to
 * their gaps, and that disagreement lands in the start skew that the probes cannot see.
 */
export function sharedPreciseWall(clock: Pick<Clock, 'now' | 'wallNow'>): PreciseWall {
  let w = shared.get(clock)
  if (w === undefined) {
    w = createPreciseWall(clock)
    shared.set(clock, w)
  }
  return w
}

/** Wall − monotonic clock, ms, to within a few microseconds where the clocks move (see createPreciseWall). */
export function wallMinusMonotonic(clock: Pick<Clock, 'now' | 'wallNow'>, maxSpinMs = 2.5): number {
  return measureWallMinusMonotonic(clock, maxSpinMs).offset
}

/** The difference and the gap of the edge it was read at (0 for a clock that does not move, Infinity for no edge). */
function measureWallMinusMonotonic(clock: Pick<Clock, 'now' | 'wallNow'>, maxSpinMs = 2.5): { offset: number; gap: number } {
  const start = clock.now()
  let prevWall = clock.wallNow()
  let prevMono = clock.now()
  // The tightest edge seen, should every one be stretched by preemption.
  let bestGap = Number.POSITIVE_INFINITY
  let best = Number.NaN
  for (let i = 0; i < 1_000_000; i++) {
    const wall = clock.wallNow()
    const mono = clock.now()
    if (wall !== prevWall) {
      // The tick happened between the two wall readings, which a few hundred ns separate unless
      // the thread was preempted in between (then wait for the next edge).
      const gap = mono - prevMono
      if (wall > prevWall && gap < bestGap) { bestGap = gap; best = Math.floor(wall) - prevMono }
      if (bestGap < 0.02) break
      prevWall = wall
    }
    if (mono - start > maxSpinMs) break
    // A clock that does not move on its own never ticks over.
    if (i === 1000 && mono === start) return { offset: clock.wallNow() - clock.now(), gap: 0 }
    prevMono = mono
  }
  return Number.isFinite(best) && bestGap < 1
    ? { offset: best, gap: bestGap }
    : { offset: clock.wallNow() - clock.now(), gap: Number.POSITIVE_INFINITY }
}

/**
 * Sends `probes` probes on an open stream, one at a time, and returns the exchanges, in order.
 * Rejects with ClockSyncError on a malformed reply; the caller owns the stream (closes or aborts it).
 */
export function probeClock(stream: Stream, wall: () => number, probes: number, signal: AbortSignal): Promise<ClockProbe[]> {
  if (!Number.isSafeInteger(probes) || probes < 1 || probes > MAX_CLOCK_PROBES) {
    return Promise.reject(new ClockSyncError(`clock probes must be 1..${MAX_CLOCK_PROBES}, got ${probes}`))
  }
  return new Promise<ClockProbe[]>((resolve, reject) => {
    const out: ClockProbe[] = []
    let pending: Uint8Array = new Uint8Array(0)
    let t1 = 0
    let seq = 0
    let settled = false
    const finish = (err: Error | null): void => {
      if (settled) return
      settled = true
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (err === null) resolve(out)
      else reject(err)
    }
    const send = (): void => {
      const frame = new Uint8Array(PROBE_BYTES)
      const v = new DataView(frame.buffer)
      v.setUint8(0, CLOCK_SYNC_VERSION)
      v.setUint8(1, PROBE)
      v.setUint16(2, seq)
      t1 = wall()
      stream.send(frame)
    }
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }): void => {
      // Stamped before anything else: this is as close to the wire as the event loop gets.
      const t4 = wall()
      if (settled) return
      pending = append(pending, evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
      if (pending.length < REPLY_BYTES) return
      if (pending.length > REPLY_BYTES) { finish(new ClockSyncError(`clock reply of ${pending.length} bytes where ${REPLY_BYTES} were expected`)); return }
      const v = new DataView(pending.buffer, pending.byteOffset, REPLY_BYTES)
      const t2 = v.getFloat64(4)
      const t3 = v.getFloat64(12)
      pending = new Uint8Array(0)
      if (v.getUint8(0) !== CLOCK_SYNC_VERSION || v.getUint8(1) !== REPLY) {
        finish(new ClockSyncError(`clock reply has version ${v.getUint8(0)} kind ${v.getUint8(1)}; expected version ${CLOCK_SYNC_VERSION} kind ${REPLY}`))
        return
      }
      if (v.getUint16(2) !== seq) { finish(new ClockSyncError(`clock reply for probe ${v.getUint16(2)} while probe ${seq} is outstanding`)); return }
      if (!Number.isFinite(t2) || !Number.isFinite(t3) || t3 < t2) {
        finish(new ClockSyncError(`clock reply ${seq} has impossible times t2=${t2} t3=${t3}`))
        return
      }
      out.push({ t1, t2, t3, t4 })
      seq++
      if (seq >= probes) { finish(null); return }
      try { send() } catch (err) { finish(err as Error) }
    }
    const onClose = (): void => { finish(new ClockSyncError(`clock stream closed after ${out.length} of ${probes} replies`)) }
    const onAbort = (): void => { finish(new ClockSyncError(`clock probes timed out after ${out.length} of ${probes} replies`)) }
    if (signal.aborted) { onAbort(); return }
    stream.addEventListener('message', onMessage as never)
    stream.addEventListener('close', onClose)
    signal.addEventListener('abort', onAbort)
    try { send() } catch (err) { finish(err as Error) }
  })
}

export interface AnswerClockOptions {
  /** Wall-clock ms, sub-millisecond (a PreciseWall's `now`). */
  wall: () => number
  /** Called after each reply has left, outside every stamp (a PreciseWall's `refresh`). */
  refresh?: () => void
  clock: Pick<Clock, 'setTimer' | 'now'>
  /** The stream is closed after this long without a probe. */
  idleMs: number
  onBad: (reason: string) => void
}

/**
 * Answers probes on an inbound stream, round after round, until the requester closes it or it has
 * been idle for `idleMs`. Never throws: a malformed probe, or more than MAX_CLOCK_PROBES within
 * PROBE_WINDOW_MS, aborts the stream, and `onBad` hears why.
 */
export function answerClock(stream: Stream, o: AnswerClockOptions): void {
  const { wall, clock } = o
  let pending: Uint8Array = new Uint8Array(0)
  let windowAt = Number.NEGATIVE_INFINITY
  let inWindow = 0
  let lastAt = clock.now()
  let timer = clock.setTimer(idleCheck, o.idleMs)
  function idleCheck (): void {
    const idle = clock.now() - lastAt
    if (idle >= o.idleMs) { stream.close().catch(() => { stream.abort(new ClockSyncError(`clock stream idle for ${o.idleMs} ms`)) }); return }
    timer = clock.setTimer(idleCheck, o.idleMs - idle)
  }
  const onBad = o.onBad
  const bad = (reason: string): void => {
    onBad(reason)
    stream.abort(new ClockSyncError(reason))
  }
  const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }): void => {
    const t2 = wall()
    pending = append(pending, evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
    lastAt = clock.now()
    while (pending.length >= PROBE_BYTES) {
      const v = new DataView(pending.buffer, pending.byteOffset, PROBE_BYTES)
      if (v.getUint8(0) !== CLOCK_SYNC_VERSION || v.getUint8(1) !== PROBE) {
        bad(`clock probe has version ${v.getUint8(0)} kind ${v.getUint8(1)}; expected version ${CLOCK_SYNC_VERSION} kind ${PROBE}`)
        return
      }
      if (lastAt - windowAt >= PROBE_WINDOW_MS) { windowAt = lastAt; inWindow = 0 }
      if (inWindow >= MAX_CLOCK_PROBES) { bad(`more than ${MAX_CLOCK_PROBES} clock probes within ${PROBE_WINDOW_MS} ms on one stream`); return }
      const seq = v.getUint16(2)
      pending = pending.subarray(PROBE_BYTES)
      const frame = new Uint8Array(REPLY_BYTES)
      const r = new DataView(frame.buffer)
      r.setUint8(0, CLOCK_SYNC_VERSION)
      r.setUint8(1, REPLY)
      r.setUint16(2, seq)
      r.setFloat64(4, t2)
      r.setFloat64(12, wall())
      inWindow++
      try {
        stream.send(frame)
      } catch {
        stream.abort(new ClockSyncError('clock reply could not be sent'))
        return
      }
    }
    // Between probes, never between a probe's two stamps (a refresh may spin up to ~1 ms).
    o.refresh?.()
  }
  stream.addEventListener('message', onMessage as never)
  stream.addEventListener('remoteCloseWrite', () => { stream.close().catch(() => {}) })
  stream.addEventListener('close', () => {
    timer.cancel()
    stream.removeEventListener('message', onMessage as never)
  })
}

function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
