import type { PeerClockOffset } from './clock-offsets.ts'

export interface EpochLeadOptions {
  /** Never less than this (gossip on a busy host, timer granularity). Default 100 ms. */
  floorMs?: number
  /** Never more (a wild offset must not postpone every takeover). Default 1500 ms, the old fixed margin. */
  capMs?: number
}

/**
 * How far ahead of now a new epoch must start so that its proposal reaches every peer before it
 * applies there. Each peer maps the plan-relative start through its own wall clock, so two peers
 * can disagree by the sum of their offsets from us; the proposal itself takes about half a round
 * trip. Twice (largest |offset| + largest round trip) covers both with room for a slow delivery.
 */
export function epochLeadMs(offsets: readonly Pick<PeerClockOffset, 'offset_ms' | 'rtt_ms'>[], options: EpochLeadOptions = {}): number {
  const floor = options.floorMs ?? 100
  const cap = Math.max(floor, options.capMs ?? 1500)
  let offset = 0
  let rtt = 0
  for (const o of offsets) {
    if (Number.isFinite(o.offset_ms)) offset = Math.max(offset, Math.abs(o.offset_ms))
    if (Number.isFinite(o.rtt_ms)) rtt = Math.max(rtt, o.rtt_ms)
  }
  return Math.round(Math.min(cap, Math.max(floor, 2 * (offset + rtt))))
}
