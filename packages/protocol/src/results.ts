import type { Counters } from '@loadmesh/metrics'
import { bool, bytes, id, invalid, list, mapKeys, record, uint } from './fields.ts'
import { LIMITS } from './limits.ts'

/**
 * One metrics window on the wire: a WindowSnapshot (see @loadmesh/metrics) with the histograms as raw
 * bytes of HdrHistogram's V2 compressed encoding instead of base64, and without start_ms (always
 * index × duration_ms for a recorder's window). Convert with windowToWire / windowFromWire.
 */
export interface WireWindow {
  index: number
  duration_ms: number
  /** Grows with every change; receivers keep the highest revision per (peer, index). */
  revision: number
  closed: boolean
  counters: Counters
  /**
   * Metric name -> compressed HdrHistogram. Names this peer does not know are kept (a newer peer
   * may record more metrics); the metrics package ignores them when it decodes.
   */
  histograms: Record<string, Uint8Array>
}

/** Published on loadmesh/<mesh>/results: some windows of one peer's recorder for one run. */
export interface ResultsDelta {
  run_id: string
  /** Whose windows these are (relays may forward another peer's windows). */
  peer_id: string
  windows: WireWindow[]
}

/**
 * The numeric counters, in proto field order. Kept here (not imported from metrics) because the
 * order is a wire contract; a test checks it names exactly metrics' COUNTER_FIELDS, so a counter
 * added to metrics cannot be dropped on the wire unnoticed.
 */
export const WIRE_COUNTER_FIELDS = [
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

export function readCounters(v: unknown, path: string): Counters {
  if (v === undefined || v === null) invalid(path, 'is missing')
  const o = record(v, path)
  const c = {} as Counters
  for (const f of WIRE_COUNTER_FIELDS) c[f] = uint(o[f], `${path}.${f}`)
  c.errors = readCountMap(o.errors, `${path}.errors`)
  c.clamped = readCountMap(o.clamped, `${path}.clamped`)
  return c
}

function readCountMap(v: unknown, path: string): Record<string, number> {
  const [o, keys] = mapKeys(v, path, LIMITS.counterKeys)
  const out: Record<string, number> = {}
  for (const k of keys) out[k] = uint(o[k], `${path}.${k}`)
  return out
}

export function readWindow(v: unknown, path: string): WireWindow {
  const o = record(v, path)
  const index = uint(o.index, `${path}.index`, LIMITS.windowIndex)
  const duration = uint(o.duration_ms, `${path}.duration_ms`, LIMITS.windowMs)
  if (duration === 0) invalid(`${path}.duration_ms`, 'must be positive, got 0')
  const [hs, names] = mapKeys(o.histograms, `${path}.histograms`, LIMITS.histogramsPerWindow)
  const histograms: Record<string, Uint8Array> = {}
  for (const name of names) histograms[name] = bytes(hs[name], `${path}.histograms.${name}`, LIMITS.histogramBytes, true)
  return {
    index,
    duration_ms: duration,
    revision: uint(o.revision, `${path}.revision`),
    closed: bool(o.closed, `${path}.closed`),
    counters: readCounters(o.counters, `${path}.counters`),
    histograms
  }
}

export function readWindows(v: unknown, path: string, max: number): WireWindow[] {
  return list(v, path, max).map((w, i) => readWindow(w, `${path}[${i}]`))
}

export function readResultsDelta(v: unknown, path = 'results'): ResultsDelta {
  const o = record(v, path)
  return {
    run_id: id(o.run_id, `${path}.run_id`),
    peer_id: id(o.peer_id, `${path}.peer_id`),
    windows: readWindows(o.windows, `${path}.windows`, LIMITS.windowsPerMessage)
  }
}
