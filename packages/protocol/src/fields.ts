import { ProtocolError } from './errors.ts'
import { LIMITS } from './limits.ts'

/*
 * Field readers shared by both directions: decoding runs them on what protobufjs produced (64-bit
 * integers as bigint), encoding runs them on the caller's value (numbers). Each returns a clean copy
 * or throws ProtocolError naming the field path, so one function per message is the single
 * definition of "valid" on both sides.
 */

export function invalid(path: string, problem: string): never {
  throw new ProtocolError('ERR_INVALID_FIELD', `${path}: ${problem}`)
}

export function tooLarge(path: string, problem: string): never {
  throw new ProtocolError('ERR_TOO_LARGE', `${path}: ${problem}`)
}

export function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}`
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (v instanceof Uint8Array) return `${v.length} bytes`
  if (Array.isArray(v)) return 'an array'
  if (v === null) return 'null'
  if (typeof v === 'object') return 'an object'
  return String(v)
}

export function record(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    invalid(path, `expected an object, got ${show(v)}`)
  }
  return v as Record<string, unknown>
}

/** A non-negative integer that a JS number holds exactly (uint64 values above 2^53 are refused). */
export function uint(v: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
  let n: number
  if (typeof v === 'bigint') {
    if (v < 0n || v > BigInt(max)) invalid(path, `must be an integer in 0..${max}, got ${v}`)
    n = Number(v)
  } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
    n = v
  } else {
    invalid(path, `must be a non-negative integer, got ${show(v)}`)
  }
  if (n < 0 || n > max) invalid(path, `must be an integer in 0..${max}, got ${n}`)
  return n
}

/** A finite number in [min, max] (min exclusive with `exclusiveMin`); -0 becomes 0. */
export function num(
  v: unknown,
  path: string,
  opts: { min?: number; max?: number; exclusiveMin?: boolean } = {}
): number {
  const min = opts.min ?? 0
  const max = opts.max ?? Number.MAX_VALUE
  if (typeof v !== 'number' || !Number.isFinite(v)) invalid(path, `must be a finite number, got ${show(v)}`)
  if (opts.exclusiveMin === true ? !(v > min) : !(v >= min)) {
    invalid(path, `must be ${opts.exclusiveMin === true ? '>' : '≥'} ${min}, got ${v}`)
  }
  if (v > max) invalid(path, `must be ≤ ${max}, got ${v}`)
  return v === 0 ? 0 : v
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') invalid(path, `must be a boolean, got ${show(v)}`)
  return v
}

/** Any string up to `max` UTF-16 units; `nonEmpty` refuses "" (proto3's encoding of "missing"). */
export function text(v: unknown, path: string, max: number, nonEmpty = false): string {
  if (typeof v !== 'string') invalid(path, `must be a string, got ${show(v)}`)
  if (v.length > max) tooLarge(path, `${v.length} characters, limit ${max}`)
  if (nonEmpty && v.length === 0) invalid(path, 'is missing (empty)')
  return v
}

/* Printable ASCII without spaces: ids end up in logs, map keys and topic names. */
const ID_RE = /^[\x21-\x7e]+$/

/** A peer, run, plan or command id: 1..128 printable ASCII characters. */
export function id(v: unknown, path: string): string {
  const s = text(v, path, LIMITS.idChars, true)
  if (!ID_RE.test(s)) invalid(path, `must be printable ASCII without spaces, got ${show(s)}`)
  return s
}

/** An id, or "" for none (Heartbeat.run_id when idle). */
export function optionalId(v: unknown, path: string): string {
  if (v === '') return ''
  return id(v, path)
}

const MESH_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** Whether `s` can name a mesh: it becomes part of the gossipsub topic names. */
export function isValidMeshName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= LIMITS.meshNameChars && MESH_RE.test(s)
}

export function meshName(v: unknown, path: string): string {
  const s = text(v, path, LIMITS.meshNameChars, true)
  if (!MESH_RE.test(s)) invalid(path, `must be letters, digits, ".", "_" or "-" (first alphanumeric), got ${show(s)}`)
  return s
}

/** Bytes (copied, so the result never aliases a network buffer that is later reused). */
export function bytes(v: unknown, path: string, max: number, nonEmpty = false): Uint8Array {
  if (!(v instanceof Uint8Array)) invalid(path, `must be bytes, got ${show(v)}`)
  if (v.length > max) tooLarge(path, `${v.length} bytes, limit ${max}`)
  if (nonEmpty && v.length === 0) invalid(path, 'is missing (empty)')
  return new Uint8Array(v)
}

export function list(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) invalid(path, `must be an array, got ${show(v)}`)
  if (v.length > max) tooLarge(path, `${v.length} entries, limit ${max}`)
  return v
}

/** Map keys: the metrics package's counter-key rule (also keeps out "__proto__"). */
const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/

export function mapKeys(v: unknown, path: string, max: number): [Record<string, unknown>, string[]] {
  const o = record(v, path)
  const keys = Object.keys(o)
  if (keys.length > max) tooLarge(path, `${keys.length} keys, limit ${max}`)
  for (const k of keys) {
    if (k.length > LIMITS.counterKeyChars) tooLarge(path, `key ${show(k)} has ${k.length} characters, limit ${LIMITS.counterKeyChars}`)
    if (!KEY_RE.test(k)) invalid(path, `invalid key ${show(k)}`)
  }
  return [o, keys]
}

export function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    invalid(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${show(v)}`)
  }
  return v as T
}
