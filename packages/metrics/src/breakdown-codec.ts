import { BREAKDOWN_DIMENSIONS, BREAKDOWN_METRICS } from './breakdown.ts'
import type { Breakdown, BreakdownDimension, BreakdownMetric, LabelStats, WeightedView } from './breakdown.ts'
import { decodeHistogram, encodeHistogram } from './histogram-codec.ts'
import type { Histogram } from './histogram.ts'

/*
 * Wire form of a cumulative breakdown (what a mesh peer sends in a reconcile response): UTF-8 JSON,
 *   {"v":1,"finished":N,"final":bool,
 *    "dimensions":{"endpoint":{"/v1/embeddings":{"completed":..,"failed":..,"errors":{..},
 *        "input_tokens":..,"output_tokens":..,"weight":..,"histograms":{"e2e":"<HDR V2 base64>",..}},..},..},
 *    "overflow":{"endpoint":N,..},
 *    "weighted":null | {"weight":..,"completed_weight":..,"failed_weight":..,"errors":{..},"histograms":{..}}}
 * i.e. the Breakdown type with each histogram as the same HdrHistogram V2 compressed base64 that
 * reports and window snapshots use. JSON rather than protobuf messages: the shape is the metrics
 * package's and changes with it, the histograms dominate the size either way, and the protocol
 * package stays unaware of label dimensions (it only bounds the bytes).
 */

/** Bytes of one encoded breakdown (3 dimensions × 33 values × 6 histograms of a few KB fit easily). */
export const MAX_ENCODED_BREAKDOWN_BYTES = 8 * 1024 * 1024
/** Distinct values per dimension accepted on the wire (a recorder keeps 32 + '(other)' by default). */
export const MAX_WIRE_LABEL_VALUES = 256
/** Characters of one label value. */
export const MAX_LABEL_CHARS = 256
const MAX_ERROR_KEYS = 256
const ERROR_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/
// C0/C1 controls and the bidi/zero-width characters: labels end up in terminals and reports.
const BAD_LABEL_RE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/
const WIRE_VERSION = 1

/**
 * A peer's cumulative breakdown at one moment. Snapshots of one (run, peer) only grow, so the one
 * covering more finished requests is the newer (newerSnapshot); `final` marks the one taken after
 * the peer's run ended (nothing can follow it).
 */
export interface BreakdownSnapshot {
  /** Finished (completed + failed) requests the peer had recorded when it was taken. */
  finished: number
  final: boolean
  breakdown: Breakdown
}

/** Refused wire breakdown: garbage, oversized, or a field out of its domain; `message` names it. */
export class BreakdownDecodeError extends Error {
  override name = 'BreakdownDecodeError'
  readonly code = 'ERR_BAD_BREAKDOWN'
}

/** Whether `a` should replace `b` as a peer's latest snapshot. */
export function newerSnapshot(a: BreakdownSnapshot, b: BreakdownSnapshot | undefined): boolean {
  if (b === undefined) return true
  return a.finished > b.finished || (a.finished === b.finished && a.final && !b.final)
}

export function encodeBreakdownSnapshot(s: BreakdownSnapshot): Uint8Array {
  const b = s.breakdown
  const dimensions: Record<string, Record<string, unknown>> = {}
  for (const dim of BREAKDOWN_DIMENSIONS) {
    const values = b.dimensions[dim]
    if (values === undefined) continue
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(values)) {
      out[k] = {
        completed: v.completed, failed: v.failed, errors: v.errors, input_tokens: v.input_tokens,
        output_tokens: v.output_tokens, weight: v.weight, histograms: encodeBreakdownHistograms(v.histograms)
      }
    }
    dimensions[dim] = out
  }
  const w = b.weighted
  const wire = {
    v: WIRE_VERSION,
    finished: s.finished,
    final: s.final,
    dimensions,
    overflow: b.overflow,
    weighted: w === null ? null : {
      weight: w.weight, completed_weight: w.completed_weight, failed_weight: w.failed_weight, errors: w.errors, histograms: encodeBreakdownHistograms(w.histograms)
    }
  }
  const bytes = new TextEncoder().encode(JSON.stringify(wire))
  if (bytes.length > MAX_ENCODED_BREAKDOWN_BYTES) {
    throw new BreakdownDecodeError(`encodeBreakdownSnapshot: ${bytes.length} bytes, limit ${MAX_ENCODED_BREAKDOWN_BYTES}`)
  }
  return bytes
}

/**
 * Decodes and validates a snapshot from an untrusted peer. Throws BreakdownDecodeError naming
 * `where` and the bad field; the size is checked before parsing, every count, name and histogram
 * after, so a bad snapshot is refused whole (never half-merged).
 */
export function decodeBreakdownSnapshot(bytes: unknown, where = 'breakdown'): BreakdownSnapshot {
  const fail = (problem: string): never => { throw new BreakdownDecodeError(`${where}: ${problem}`) }
  if (!(bytes instanceof Uint8Array)) fail('expected bytes')
  const buf = bytes as Uint8Array
  if (buf.length > MAX_ENCODED_BREAKDOWN_BYTES) fail(`${buf.length} bytes, limit ${MAX_ENCODED_BREAKDOWN_BYTES}`)
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf))
  } catch (err) {
    fail(`not UTF-8 JSON (${(err as Error).message})`)
  }
  const o = obj(raw, where)
  if (o.v !== WIRE_VERSION) fail(`version ${JSON.stringify(o.v)}, expected ${WIRE_VERSION}`)
  const finished = count(o.finished, `${where}.finished`)
  if (typeof o.final !== 'boolean') fail(`final must be a boolean, got ${JSON.stringify(o.final)}`)
  const dims = obj(o.dimensions, `${where}.dimensions`)
  const dimensions: Breakdown['dimensions'] = {}
  for (const [dim, values] of Object.entries(dims)) {
    if (!isDimension(dim)) fail(`dimensions has an unknown dimension ${JSON.stringify(dim.slice(0, 40))}`)
    const path = `${where}.dimensions.${dim}`
    const vo = obj(values, path)
    const keys = Object.keys(vo)
    if (keys.length > MAX_WIRE_LABEL_VALUES) fail(`dimensions.${dim} has ${keys.length} values (limit ${MAX_WIRE_LABEL_VALUES})`)
    const out: Record<string, LabelStats> = {}
    for (const k of keys) {
      if (k.length === 0 || k.length > MAX_LABEL_CHARS || BAD_LABEL_RE.test(k) || k === '__proto__') {
        fail(`dimensions.${dim} has an invalid label ${JSON.stringify(k.slice(0, 40))}`)
      }
      out[k] = readStats(vo[k], `${path}[${JSON.stringify(k.slice(0, 40))}]`)
    }
    dimensions[dim as BreakdownDimension] = out
  }
  const ov = obj(o.overflow, `${where}.overflow`)
  const overflow: Breakdown['overflow'] = {}
  for (const [dim, n] of Object.entries(ov)) {
    if (!isDimension(dim)) fail(`overflow has an unknown dimension ${JSON.stringify(dim.slice(0, 40))}`)
    overflow[dim as BreakdownDimension] = count(n, `${where}.overflow.${dim}`)
  }
  let weighted: WeightedView | null = null
  if (o.weighted !== null) {
    const path = `${where}.weighted`
    const w = obj(o.weighted, path)
    weighted = {
      weight: amount(w.weight, `${path}.weight`),
      completed_weight: amount(w.completed_weight, `${path}.completed_weight`),
      failed_weight: amount(w.failed_weight, `${path}.failed_weight`),
      errors: errors(w.errors, `${path}.errors`, amount),
      histograms: histograms(w.histograms, `${path}.histograms`)
    }
  }
  return { finished, final: o.final as boolean, breakdown: { dimensions, overflow, weighted } }
}

function readStats(v: unknown, path: string): LabelStats {
  const s = obj(v, path)
  return {
    completed: count(s.completed, `${path}.completed`),
    failed: count(s.failed, `${path}.failed`),
    errors: errors(s.errors, `${path}.errors`, count),
    input_tokens: count(s.input_tokens, `${path}.input_tokens`),
    output_tokens: count(s.output_tokens, `${path}.output_tokens`),
    weight: amount(s.weight, `${path}.weight`),
    histograms: histograms(s.histograms, `${path}.histograms`)
  }
}

function errors(v: unknown, path: string, value: (n: unknown, path: string) => number): Record<string, number> {
  const o = obj(v, path)
  const keys = Object.keys(o)
  if (keys.length > MAX_ERROR_KEYS) throw new BreakdownDecodeError(`${path}: ${keys.length} keys (limit ${MAX_ERROR_KEYS})`)
  const out: Record<string, number> = {}
  for (const k of keys) {
    if (!ERROR_KEY_RE.test(k)) throw new BreakdownDecodeError(`${path}: invalid key ${JSON.stringify(k.slice(0, 40))}`)
    out[k] = value(o[k], `${path}.${k}`)
  }
  return out
}

function histograms(v: unknown, path: string): Partial<Record<BreakdownMetric, Histogram>> {
  const o = obj(v, path)
  const out: Partial<Record<BreakdownMetric, Histogram>> = {}
  for (const [k, enc] of Object.entries(o)) {
    if (!(BREAKDOWN_METRICS as readonly string[]).includes(k)) {
      throw new BreakdownDecodeError(`${path}: unknown metric ${JSON.stringify(k.slice(0, 40))}`)
    }
    try {
      out[k as BreakdownMetric] = decodeHistogram(enc, `${path}.${k}`)
    } catch (err) {
      throw new BreakdownDecodeError((err as Error).message)
    }
  }
  return out
}

/** A label's histograms as base64 HDR V2 (empty ones left out): the wire form and the report's form. */
export function encodeBreakdownHistograms(h: Partial<Record<BreakdownMetric, Histogram>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of BREAKDOWN_METRICS) {
    const x = h[m]
    if (x !== undefined && x.totalCount > 0) out[m] = encodeHistogram(x)
  }
  return out
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BreakdownDecodeError(`${path}: expected an object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`)
  return v as Record<string, unknown>
}

function count(n: unknown, path: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new BreakdownDecodeError(`${path}: must be a non-negative integer, got ${JSON.stringify(n)}`)
  return n
}

/** Weights are fractional (importance weights) but never negative or infinite. */
function amount(n: unknown, path: string): number {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new BreakdownDecodeError(`${path}: must be a finite number ≥ 0, got ${JSON.stringify(n)}`)
  return n
}

function isDimension(d: string): boolean {
  return (BREAKDOWN_DIMENSIONS as readonly string[]).includes(d)
}
