import { MetricsDecodeError } from './errors.ts'

/**
 * Plain counters for a window or a whole run. All fields add up when windows or peers are merged.
 * Token counters cover ok requests only (as the output_tokens histogram does).
 */
export interface Counters {
  /** Requests whose intended send time fell here (onScheduled). */
  scheduled: number
  /** Requests actually sent (onSent), by send time. */
  sent: number
  /** Requests that finished ok, by end time. */
  completed: number
  /** Requests that finished with an error (any class, timeouts included), by end time. */
  failed: number
  /** Requests never sent because a cap was hit, by intended time. */
  dropped: number
  /** Failed requests by error class (http_503, timeout, connect, ...). */
  errors: Record<string, number>
  input_tokens: number
  output_tokens: number
  reasoning_tokens: number
  /** Ok requests whose output token count came from the server's `usage`. */
  tokens_from_usage: number
  /** Ok requests whose output token count was counted by the client. */
  tokens_counted: number
  /** Content chunks of ok streamed requests (tokens per chunk = streamed_output_tokens / content_chunks). */
  content_chunks: number
  streamed_output_tokens: number
  /** Finished requests that met the recorder's SLO (0 when it has none). */
  slo_met: number
  /** Values clamped into the histogram range (negative or above 1 h), by metric. */
  clamped: Record<string, number>
}

/** The numeric (non-map) counter fields, in a stable order. */
export const COUNTER_FIELDS = [
  'scheduled',
  'sent',
  'completed',
  'failed',
  'dropped',
  'input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'tokens_from_usage',
  'tokens_counted',
  'content_chunks',
  'streamed_output_tokens',
  'slo_met'
] as const satisfies ReadonlyArray<keyof Counters>

export type CounterField = (typeof COUNTER_FIELDS)[number]

export function emptyCounters(): Counters {
  return {
    scheduled: 0,
    sent: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    errors: {},
    input_tokens: 0,
    output_tokens: 0,
    reasoning_tokens: 0,
    tokens_from_usage: 0,
    tokens_counted: 0,
    content_chunks: 0,
    streamed_output_tokens: 0,
    slo_met: 0,
    clamped: {}
  }
}

/** Adds `source` into `target`. */
export function addCounters(target: Counters, source: Counters): void {
  for (const f of COUNTER_FIELDS) target[f] += source[f]
  for (const k of Object.keys(source.errors)) bump(target.errors, k, source.errors[k])
  for (const k of Object.keys(source.clamped)) bump(target.clamped, k, source.clamped[k])
}

export function copyCounters(c: Counters): Counters {
  const out = emptyCounters()
  addCounters(out, c)
  return out
}

/**
 * Keys allowed in the `errors` / `clamped` maps. Also rules out `__proto__`, whose assignment on a
 * plain object would change its prototype instead of adding a key.
 */
const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/

/** Normalizes an error class from an injector into a safe map key. */
export function errorKey(errorClass: string | undefined): string {
  return errorClass !== undefined && KEY_RE.test(errorClass) ? errorClass : 'other'
}

export function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by
}

const MAX_MAP_KEYS = 256

/** Validates counters from an untrusted peer; throws MetricsDecodeError (ERR_BAD_SNAPSHOT). */
export function parseCounters(v: unknown, where: string): Counters {
  const fail = (problem: string): never => {
    throw new MetricsDecodeError('ERR_BAD_SNAPSHOT', `${where}: ${problem}`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('counters must be an object')
  const o = v as Record<string, unknown>
  const out = emptyCounters()
  for (const f of COUNTER_FIELDS) {
    const n = o[f]
    if (!isCount(n)) fail(`counter "${f}" must be a non-negative integer, got ${JSON.stringify(n)}`)
    out[f] = n as number
  }
  for (const m of ['errors', 'clamped'] as const) {
    const map = o[m]
    if (typeof map !== 'object' || map === null || Array.isArray(map)) fail(`"${m}" must be an object`)
    const keys = Object.keys(map as object)
    if (keys.length > MAX_MAP_KEYS) fail(`"${m}" has ${keys.length} keys (limit ${MAX_MAP_KEYS})`)
    for (const k of keys) {
      if (!KEY_RE.test(k)) fail(`"${m}" has an invalid key ${JSON.stringify(k.slice(0, 80))}`)
      const n = (map as Record<string, unknown>)[k]
      if (!isCount(n)) fail(`"${m}.${k}" must be a non-negative integer, got ${JSON.stringify(n)}`)
      out[m][k] = n as number
    }
  }
  return out
}

function isCount(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}
