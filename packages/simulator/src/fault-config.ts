import { parseDuration } from '@loadmesh/clock'
import { FaultConfigError } from './errors.ts'

/**
 * Faults one request can suffer, decided when it arrives: by its `x-loadmesh-fault` header, else by
 * one seeded draw against the configured rates.
 */
export type RequestFaultKind =
  | 'http_429'
  | 'http_503'
  | 'http_500'
  | 'hang_before_headers'
  | 'hang_before_first_token'
  | 'disconnect'
  | 'sse_error'

/** Faults on a timeline (from the simulator's start, or from the admin call that adds them), played by the engine. */
export type TimedFaultKind = 'brownout' | 'stall' | 'crash'

export const REQUEST_FAULT_KINDS: readonly RequestFaultKind[] = [
  'http_429', 'http_503', 'http_500', 'hang_before_headers', 'hang_before_first_token', 'disconnect', 'sse_error'
]
export const TIMED_FAULT_KINDS: readonly TimedFaultKind[] = ['brownout', 'stall', 'crash']

/** A per-request fault at a rate. Only the fields its kind uses are set. */
export interface RateFault {
  kind: RequestFaultKind
  /** Fraction of requests, 0..1. The rates of all kinds add up to at most 1 (one draw per request). */
  rate: number
  /** http_429, http_503: the `retry-after` header, seconds (default 1). */
  retryAfterS?: number
  /** disconnect, sse_error: tokens sent before the fault (default 1; capped by the answer's length). */
  afterTokens?: number
  /** hang_*: how long the hang lasts before the request carries on (absent: until the client gives up). */
  durationMs?: number
}

export interface BrownoutFault {
  kind: 'brownout'
  /** Window start, ms after the timeline's origin. */
  startMs: number
  /** Window end; null = until the simulator stops (or the fault is cleared). */
  endMs: number | null
  /** Latency multiplier (> 0; 3 = every step or token takes three times as long). */
  factor: number
}

export interface StallFault {
  kind: 'stall'
  atMs: number
  durationMs: number
  /** Replica that stalls; absent = all. */
  replica?: number
}

export interface CrashFault {
  kind: 'crash'
  atMs: number
  replica: number
  /** The replica refuses requests (503) for this long, then comes back empty. */
  restartMs: number
}

export type TimedFault = BrownoutFault | StallFault | CrashFault
export type FaultSpec = RateFault | TimedFault

const RATE_FIELDS: Record<RequestFaultKind, readonly string[]> = {
  http_429: ['retry_after'],
  http_503: ['retry_after'],
  http_500: [],
  hang_before_headers: ['duration'],
  hang_before_first_token: ['duration'],
  disconnect: ['after_tokens'],
  sse_error: ['after_tokens']
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function show(v: unknown): string {
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}...` : s
}

/**
 * Reads a fault configuration as it comes from a YAML or JSON file, a plan's `faults:` section or
 * an admin POST: either a list of faults or `{ faults: [...] }`. Every error names `source` and the
 * fault's position and field. Durations are strings with a unit (`500ms`, `2s`) or numbers of
 * milliseconds; `retry_after` is seconds.
 */
export function parseFaultConfig(raw: unknown, source: string): FaultSpec[] {
  let list: unknown = raw
  if (isObj(raw)) {
    for (const k of Object.keys(raw)) {
      if (k !== 'faults') throw new FaultConfigError(`${source}: unknown field "${k}" (a fault configuration is { faults: [...] } or a list of faults)`)
    }
    list = raw.faults ?? []
  }
  if (raw === null || raw === undefined) return []
  if (!Array.isArray(list)) throw new FaultConfigError(`${source}: faults must be a list, got ${show(list)}`)
  const out = list.map((f, i) => parseFault(f, `${source}: faults[${i}]`))
  checkRates(out.filter((f): f is RateFault => isRateFault(f)), source)
  return out
}

export function isRateFault(f: FaultSpec): f is RateFault {
  return (REQUEST_FAULT_KINDS as readonly string[]).includes(f.kind)
}

/** The rates share one draw per request, so they must fit in 1 and each kind appears once. */
export function checkRates(rates: RateFault[], source: string): void {
  const seen = new Set<string>()
  let sum = 0
  for (const r of rates) {
    if (seen.has(r.kind)) throw new FaultConfigError(`${source}: ${r.kind} is given twice; give each per-request kind once`)
    seen.add(r.kind)
    sum += r.rate
  }
  if (sum > 1 + 1e-12) throw new FaultConfigError(`${source}: the per-request fault rates add up to ${+sum.toFixed(6)}; they must add up to at most 1`)
}

function parseFault(f: unknown, where: string): FaultSpec {
  if (!isObj(f)) throw new FaultConfigError(`${where}: a fault must be an object with a "kind", got ${show(f)}`)
  const kind = f.kind
  const fields = (allowed: readonly string[]): void => {
    for (const k of Object.keys(f)) {
      if (k !== 'kind' && !allowed.includes(k)) throw new FaultConfigError(`${where} (${String(kind)}): unknown field "${k}" (valid: ${allowed.join(', ')})`)
    }
  }
  if (typeof kind === 'string' && (REQUEST_FAULT_KINDS as readonly string[]).includes(kind)) {
    const k = kind as RequestFaultKind
    fields(['rate', ...RATE_FIELDS[k]])
    const out: RateFault = { kind: k, rate: fraction(f.rate, `${where}.rate`) }
    if (RATE_FIELDS[k].includes('retry_after')) out.retryAfterS = f.retry_after === undefined ? 1 : seconds(f.retry_after, `${where}.retry_after`)
    if (RATE_FIELDS[k].includes('after_tokens')) out.afterTokens = f.after_tokens === undefined ? 1 : count(f.after_tokens, `${where}.after_tokens`)
    if (RATE_FIELDS[k].includes('duration') && f.duration !== undefined) out.durationMs = duration(f.duration, `${where}.duration`)
    return out
  }
  if (kind === 'brownout') {
    fields(['start', 'at', 'end', 'duration', 'factor'])
    if (f.start !== undefined && f.at !== undefined) throw new FaultConfigError(`${where} (brownout): give "start" or its synonym "at", not both`)
    if (f.end !== undefined && f.duration !== undefined) throw new FaultConfigError(`${where} (brownout): give "end" or "duration", not both`)
    const startMs = f.start ?? f.at
    const start = startMs === undefined ? 0 : duration(startMs, `${where}.start`)
    let end: number | null = null
    if (f.end !== undefined) {
      end = duration(f.end, `${where}.end`)
      if (end <= start) throw new FaultConfigError(`${where} (brownout): end (${end} ms) must come after start (${start} ms)`)
    } else if (f.duration !== undefined) {
      const d = duration(f.duration, `${where}.duration`)
      if (d <= 0) throw new FaultConfigError(`${where}.duration: must be more than 0`)
      end = start + d
    }
    const factor = f.factor
    if (typeof factor !== 'number' || !(factor > 0) || !Number.isFinite(factor)) throw new FaultConfigError(`${where}.factor: must be a positive number (latency multiplier), got ${show(factor)}`)
    return { kind: 'brownout', startMs: start, endMs: end, factor }
  }
  if (kind === 'stall') {
    fields(['at', 'duration', 'replica'])
    const d = duration(f.duration, `${where}.duration`)
    if (d <= 0) throw new FaultConfigError(`${where}.duration: must be more than 0`)
    const out: StallFault = { kind: 'stall', atMs: f.at === undefined ? 0 : duration(f.at, `${where}.at`), durationMs: d }
    if (f.replica !== undefined) out.replica = index(f.replica, `${where}.replica`)
    return out
  }
  if (kind === 'crash') {
    fields(['at', 'replica', 'restart'])
    return {
      kind: 'crash',
      atMs: f.at === undefined ? 0 : duration(f.at, `${where}.at`),
      replica: f.replica === undefined ? 0 : index(f.replica, `${where}.replica`),
      restartMs: duration(f.restart, `${where}.restart`)
    }
  }
  throw new FaultConfigError(`${where}: unknown kind ${show(kind)} (valid: ${[...REQUEST_FAULT_KINDS, ...TIMED_FAULT_KINDS].join(', ')})`)
}

function fraction(v: unknown, where: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new FaultConfigError(`${where}: must be a fraction of requests from 0 to 1 (0.05 = 5%), got ${show(v)}`)
  return v
}

function count(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new FaultConfigError(`${where}: must be an integer >= 0, got ${show(v)}`)
  return v
}

function index(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new FaultConfigError(`${where}: must be a replica index (integer >= 0), got ${show(v)}`)
  return v
}

function seconds(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.ceil(v)
  if (typeof v === 'string') {
    try {
      return Math.ceil(parseDuration(v, where) / 1000)
    } catch (err) {
      throw new FaultConfigError((err as Error).message)
    }
  }
  throw new FaultConfigError(`${where}: must be seconds (a number) or a duration such as "2s", got ${show(v)}`)
}

function duration(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v
  if (typeof v === 'string') {
    try {
      return parseDuration(v, where)
    } catch (err) {
      throw new FaultConfigError((err as Error).message)
    }
  }
  throw new FaultConfigError(`${where}: must be a duration such as "500ms" or "2s" (a bare number is milliseconds), got ${show(v)}`)
}

/** A per-request fault forced by the `x-loadmesh-fault` header, or 'none' to force no fault. */
export type ForcedFault =
  | { kind: 'none' }
  | { kind: 'http_400' }
  | (RateFault & { rate: 1 })

const HEADER_ALIASES: Record<string, RequestFaultKind | 'http_400' | 'none'> = {
  '429': 'http_429', '503': 'http_503', '500': 'http_500', '400': 'http_400', context_length_exceeded: 'http_400'
}

/**
 * `x-loadmesh-fault: <kind>[;k=N][;ms=N][;retry_after=S]`: forces one request's outcome (tests use
 * it to get every fault on demand). Kinds: the per-request fault kinds, `http_400` (or
 * `context_length_exceeded`) and `none`; `429`, `503`, `500`, `400` are accepted for the statuses.
 * `k` is after_tokens, `ms` a hang's duration. Throws FaultConfigError naming the header.
 */
export function parseFaultHeader(value: string): ForcedFault {
  const parts = value.split(';').map((p) => p.trim())
  const name = parts[0].toLowerCase()
  const kind = HEADER_ALIASES[name] ?? name
  const where = `x-loadmesh-fault "${value}"`
  if (kind === 'none' || kind === 'http_400') {
    if (parts.length > 1) throw new FaultConfigError(`${where}: ${kind} takes no parameters`)
    return { kind }
  }
  if (!(REQUEST_FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new FaultConfigError(`${where}: unknown kind "${parts[0]}" (valid: ${[...REQUEST_FAULT_KINDS, 'http_400', 'none'].join(', ')})`)
  }
  const k = kind as RequestFaultKind
  const out: RateFault & { rate: 1 } = { kind: k, rate: 1 }
  if (RATE_FIELDS[k].includes('retry_after')) out.retryAfterS = 1
  if (RATE_FIELDS[k].includes('after_tokens')) out.afterTokens = 1
  for (const p of parts.slice(1)) {
    if (p === '') continue
    const eq = p.indexOf('=')
    const key = eq < 0 ? p : p.slice(0, eq).trim()
    const raw = eq < 0 ? '' : p.slice(eq + 1).trim()
    const n = Number(raw)
    if (raw === '' || !Number.isFinite(n) || n < 0) throw new FaultConfigError(`${where}: parameter "${p}" needs a number >= 0 (e.g. k=5)`)
    if (key === 'k' && RATE_FIELDS[k].includes('after_tokens') && Number.isInteger(n)) out.afterTokens = n
    else if (key === 'ms' && RATE_FIELDS[k].includes('duration')) out.durationMs = n
    else if (key === 'retry_after' && RATE_FIELDS[k].includes('retry_after')) out.retryAfterS = Math.ceil(n)
    else throw new FaultConfigError(`${where}: ${k} takes no parameter "${key}"${key === 'k' && !Number.isInteger(n) ? ' that is not an integer' : ''}`)
  }
  return out
}

/** The configuration's file form (snake_case, durations in ms), for GET /admin/faults and reports. */
export function faultToJson(f: FaultSpec): Record<string, unknown> {
  switch (f.kind) {
    case 'brownout': return { kind: f.kind, start: `${f.startMs}ms`, ...(f.endMs === null ? {} : { end: `${f.endMs}ms` }), factor: f.factor }
    case 'stall': return { kind: f.kind, at: `${f.atMs}ms`, duration: `${f.durationMs}ms`, ...(f.replica === undefined ? {} : { replica: f.replica }) }
    case 'crash': return { kind: f.kind, at: `${f.atMs}ms`, replica: f.replica, restart: `${f.restartMs}ms` }
    default: {
      const out: Record<string, unknown> = { kind: f.kind, rate: f.rate }
      if (f.retryAfterS !== undefined) out.retry_after = f.retryAfterS
      if (f.afterTokens !== undefined) out.after_tokens = f.afterTokens
      if (f.durationMs !== undefined) out.duration = `${f.durationMs}ms`
      return out
    }
  }
}
