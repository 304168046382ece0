export interface ClockSample {
  /** The other peer's wall clock minus ours, ms. */
  offset_ms: number
  /** Network round trip, the other peer's holding time excluded, ms. */
  rtt_ms: number
}

/**
 * NTP's estimate from one probe exchange (the mesh's measureClock): we sent at t1 (our wall
 * clock), the other peer received at t2 and answered at t3 (its wall clock), we received the answer
 * at t4 (ours):
 *   offset = ((t2 - t1) + (t3 - t4)) / 2,  rtt = (t4 - t1) - (t3 - t2).
 * The error of `offset` is at most rtt / 2 (the paths' asymmetry is unknown), so prefer the sample
 * with the smallest rtt of a few. Returns null for an impossible sample (a negative rtt or hold: a
 * clock stepped during the exchange, or a lying peer) or non-finite times.
 */
export function clockSample(t1: number, t2: number, t3: number, t4: number): ClockSample | null {
  const held = t3 - t2
  const rtt = t4 - t1 - held
  if (!Number.isFinite(rtt) || !Number.isFinite(held) || rtt < 0 || held < 0) return null
  const offset = (t2 - t1 + (t3 - t4)) / 2
  if (!Number.isFinite(offset)) return null
  return { offset_ms: offset, rtt_ms: rtt }
}
