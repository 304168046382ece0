/**
 * A point in time split into whole Unix seconds and a millisecond fraction, so that differences
 * keep the sub-microsecond precision of traces like Azure's (epoch milliseconds with seven
 * fractional digits of a second do not fit in a double).
 */
export interface SplitTime { sec: number; ms: number }

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/i

/**
 * Parses an ISO-8601-like timestamp ("2023-11-16 18:15:46.6805900", "2024-05-01T12:00:00Z",
 * "...+02:00"); no zone means UTC (as in the Azure traces). Returns null when it is not one.
 */
export function parseTimestampText (text: string): SplitTime | null {
  const m = ISO.exec(text.trim())
  if (m === null) return null
  const [, y, mo, d, h, mi, s, frac, zone] = m
  const sec0 = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) / 1000
  // Date.UTC rolls over out-of-range fields (month 13, 31 February); a real timestamp round-trips.
  const check = new Date(sec0 * 1000)
  if (check.getUTCFullYear() !== +y || check.getUTCMonth() !== +mo - 1 || check.getUTCDate() !== +d ||
    check.getUTCHours() !== +h || check.getUTCMinutes() !== +mi || check.getUTCSeconds() !== +s) return null
  let offset = 0
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    offset = sign * (+digits.slice(0, 2) * 3600 + +digits.slice(2) * 60)
  }
  const ms = frac === undefined ? 0 : Number(frac.padEnd(9, '0')) / 1e6
  return { sec: sec0 - offset, ms }
}

/** Unix seconds (possibly fractional) as a SplitTime. */
export function fromUnixSeconds (x: number): SplitTime {
  const sec = Math.floor(x)
  return { sec, ms: (x - sec) * 1000 }
}

export function diffMs (a: SplitTime, b: SplitTime): number {
  return (a.sec - b.sec) * 1000 + (a.ms - b.ms)
}

export function toIso (t: SplitTime): string {
  return new Date(t.sec * 1000 + Math.floor(t.ms)).toISOString()
}
