/**
 * Durations as users type them: `250ms`, `1.5s`, `2m`, `1h`, `500us`, or a bare number of
 * milliseconds. Returned in milliseconds.
 */
export class DurationError extends Error {
  override name = 'DurationError'
  readonly code = 'ERR_BAD_DURATION'
}

const UNITS: Record<string, number> = { us: 0.001, 'µs': 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const RE = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(us|µs|ms|s|m|h)?\s*$/

export function parseDuration(text: string, what = 'duration'): number {
  const m = RE.exec(text)
  if (m === null) {
    throw new DurationError(`${what}: "${text}" is not a duration (expected e.g. 500ms, 30s, 2m, 1h)`)
  }
  const unit = m[2] ?? 'ms'
  return Number(m[1]) * UNITS[unit]
}

/** Formats milliseconds compactly for people: 950us, 12.3ms, 4.20s, 3m05s. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-'
  if (ms < 1) return `${Math.round(ms * 1000)}us`
  if (ms < 100) return `${ms.toFixed(ms < 10 ? 2 : 1)}ms`
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`
  const m = Math.floor(ms / 60_000)
  const s = Math.round((ms % 60_000) / 1000)
  return `${m}m${String(s).padStart(2, '0')}s`
}
