import { parseDuration } from '@loadmesh/clock'
import { SloSpecError } from './errors.ts'
import type { DerivedMetrics } from './derive-metrics.ts'

/** Per-request latency bounds in milliseconds; a missing key is not constrained. */
export interface Slo {
  ttft_ms?: number
  tpot_ms?: number
  e2e_ms?: number
  itl_ms?: number
}

const KEYS = ['ttft', 'tpot', 'e2e', 'itl'] as const
type SloKey = (typeof KEYS)[number]

/**
 * Parses `ttft=500ms,tpot=50ms,e2e=10s[,itl=200ms]` (durations as @loadmesh/clock's parseDuration
 * reads them; a bare number is milliseconds). Throws `SloSpecError` (code 'ERR_BAD_SLO') naming the
 * bad part, `where` (e.g. '--slo'), and the valid keys, for: an empty spec, a part without `=`, an
 * unknown or repeated key, a value that is not a duration, or a bound of 0.
 */
export function parseSlo(spec: string, where = 'SLO'): Slo {
  const valid = `valid keys: ${KEYS.join(', ')}`
  const parts = spec.split(',').map((p) => p.trim())
  if (parts.every((p) => p === '')) {
    throw new SloSpecError(`${where}: empty SLO "${spec}" (expected e.g. ttft=500ms,tpot=50ms,e2e=10s; ${valid})`)
  }
  const slo: Slo = {}
  for (const part of parts) {
    if (part === '') throw new SloSpecError(`${where}: empty part in "${spec}" (stray comma?)`)
    const eq = part.indexOf('=')
    if (eq < 0) throw new SloSpecError(`${where}: "${part}" is not key=duration (${valid})`)
    const key = part.slice(0, eq).trim().toLowerCase()
    const value = part.slice(eq + 1).trim()
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new SloSpecError(`${where}: unknown SLO key "${key}" in "${part}" (${valid})`)
    }
    const field = `${key as SloKey}_ms` as const
    if (slo[field] !== undefined) throw new SloSpecError(`${where}: "${key}" is given twice in "${spec}"`)
    let ms: number
    try {
      ms = parseDuration(value, `${where} ${key}`)
    } catch {
      throw new SloSpecError(`${where}: "${part}": "${value}" is not a duration (e.g. 500ms, 2s)`)
    }
    if (!(ms > 0)) throw new SloSpecError(`${where}: "${part}": a bound must be greater than 0`)
    slo[field] = ms
  }
  return slo
}

/** The canonical text of an SLO (keys in a fixed order, milliseconds), e.g. `ttft=500ms,e2e=10000ms`. */
export function formatSlo(slo: Slo): string {
  return KEYS.filter((k) => slo[`${k}_ms`] !== undefined)
    .map((k) => `${k}=${slo[`${k}_ms`]}ms`)
    .join(',')
}

/** True when the SLO constrains nothing. */
export function isEmptySlo(slo: Slo): boolean {
  return KEYS.every((k) => slo[`${k}_ms`] === undefined)
}

/**
 * Whether one finished request met the SLO. It must be ok, and every given bound must hold on its
 * exact values (not histogram buckets):
 * - ttft: measured from the *intended* send time. A non-streamed response delivers its first token
 *   with the whole body, so its ttft is its e2e; an ok streamed response with no token misses.
 * - tpot: only where defined (> 1 output token, streamed); otherwise the bound holds.
 * - e2e: from the intended send time to the last token (end of body when non-streamed).
 * - itl: the request's *largest* gap between content chunks must be ≤ the bound (a stall
 *   anywhere in the stream is a miss); no gaps means it holds.
 * Failed requests and timeouts always miss.
 */
export function meetsSlo(slo: Slo, ok: boolean, streamed: boolean, d: DerivedMetrics): boolean {
  if (!ok) return false
  if (slo.ttft_ms !== undefined) {
    const ttft = d.ttft ?? (streamed ? null : d.e2e)
    if (ttft === null || !(ttft <= slo.ttft_ms)) return false
  }
  if (slo.tpot_ms !== undefined && d.tpot !== null && !(d.tpot <= slo.tpot_ms)) return false
  if (slo.e2e_ms !== undefined && (d.e2e === null || !(d.e2e <= slo.e2e_ms))) return false
  if (slo.itl_ms !== undefined) {
    for (const gap of d.itl) if (gap > slo.itl_ms) return false
  }
  return true
}
