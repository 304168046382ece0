import type { ClockEcho } from './heartbeat.ts'

export interface ClockSample {
  /** The other peer's wall clock minus ours, ms. */
  offset_ms: number
  /** Network round trip, the other peer's holding time excluded, ms. */
  rtt_ms: number
}

/**
 * NTP's estimate from one echo. We sent a heartbeat at t1 (our wall clock; the echo carries it
 * back); the other peer received it at t2 and sent its own heartbeat, carrying the echo, at t3 (its
 * wall clock); we received that at t4. With held = t3 - t2 (measured on its monotonic clock):
 *   offset = ((t2 - t1) + (t3 - t4)) / 2,  rtt = (t4 - t1) - held.
 * The error of `offset` is at most rtt / 2 (asymmetric paths), so prefer the sample with the
 * smallest rtt over a few heartbeats. Returns null for an impossible sample (negative rtt: a clock
 * stepped, or the echo is not of our heartbeat).
 *
 * @param echo the entry of the other peer's heartbeat whose peer_id is ours
 * @param theirWallMs that heartbeat's wall_ms (t3)
 * @param receivedWallMs our wall clock when we received it (t4)
 */
export function clockSample(echo: ClockEcho, theirWallMs: number, receivedWallMs: number): ClockSample | null {
  const t1 = echo.wall_ms
  const t3 = theirWallMs
  const t2 = t3 - echo.held_ms
  const t4 = receivedWallMs
  const rtt = t4 - t1 - echo.held_ms
  if (!Number.isFinite(rtt) || rtt < 0) return null
  return { offset_ms: (t2 - t1 + (t3 - t4)) / 2, rtt_ms: rtt }
}
