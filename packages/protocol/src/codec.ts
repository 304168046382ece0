import type { Type } from 'protobufjs'
import { ProtocolError } from './errors.ts'
import type { DecodeResult } from './errors.ts'
import { PROTOCOL_VERSION } from './limits.ts'
import { peekVersion, scanLimits } from './wire-scan.ts'

/*
 * The two directions around protobufjs. Decoding: size, version, entry counts, protobuf decode, then
 * the message's field reader; any failure becomes a DecodeResult, never an exception. Encoding: the
 * same field reader (so we never send what a peer would refuse), protobuf encode, size.
 */

export interface Codec<T> {
  type: Type
  /** Used in messages: "envelope", "reconcile response", ... */
  what: string
  maxBytes: number
  /** Whether field 1 is `version` and must equal PROTOCOL_VERSION. */
  versioned: boolean
  /** Validates and converts what protobufjs decoded (64-bit integers as bigint) into a clean T. */
  read(raw: unknown): T
  /** Validates the caller's value before encoding (when its shape differs from the decoded one). */
  check?(value: T): T
  /** Clean T -> the plain object protobufjs encodes. */
  toRaw(value: T): Record<string, unknown>
}

const TO_OBJECT = { longs: BigInt, defaults: true, arrays: true, objects: true, oneofs: true } as const

export function decodeWith<T>(codec: Codec<T>, bytes: unknown): DecodeResult<T> {
  const { what } = codec
  try {
    if (!(bytes instanceof Uint8Array)) {
      return fail('ERR_MALFORMED', `${what}: expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`)
    }
    if (bytes.length > codec.maxBytes) {
      return fail('ERR_TOO_LARGE', `${what}: ${bytes.length} bytes, limit ${codec.maxBytes}`)
    }
    if (codec.versioned) {
      const version = peekVersion(bytes, what)
      if (version !== PROTOCOL_VERSION) return fail('ERR_VERSION', versionProblem(what, version))
    }
    scanLimits(codec.type, bytes, what)
    let raw: unknown
    try {
      raw = codec.type.toObject(codec.type.decode(bytes), TO_OBJECT)
    } catch (err) {
      return fail('ERR_MALFORMED', `${what}: ${err instanceof Error ? err.message : String(err)}`)
    }
    return { ok: true, value: codec.read(raw) }
  } catch (err) {
    if (err instanceof ProtocolError) return fail(err.code, err.message)
    // Not expected: a bug in a reader must still not take the receiver down.
    return fail('ERR_MALFORMED', `${what}: ${err instanceof Error ? err.message : String(err)}`)
  }
}

export function encodeWith<T>(codec: Codec<T>, value: T): Uint8Array {
  const clean = codec.check !== undefined ? codec.check(value) : codec.read(value)
  const raw = codec.toRaw(clean)
  if (codec.versioned) raw.version = PROTOCOL_VERSION
  const bytes = codec.type.encode(raw).finish()
  if (bytes.length > codec.maxBytes) {
    throw new ProtocolError('ERR_TOO_LARGE', `${codec.what}: encodes to ${bytes.length} bytes, limit ${codec.maxBytes}`)
  }
  // A plain Uint8Array view (protobufjs returns a Buffer in Node), like every other byte field we hand out.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function versionProblem(what: string, version: number): string {
  if (version === 0) return `${what}: no protocol version (expected ${PROTOCOL_VERSION})`
  if (version > PROTOCOL_VERSION) {
    return `${what}: protocol version ${version} is newer than this peer's ${PROTOCOL_VERSION}; upgrade loadmesh to join this mesh`
  }
  return `${what}: protocol version ${version} is older than this peer's ${PROTOCOL_VERSION}; the sender must upgrade`
}

function fail<T>(code: ProtocolError['code'], reason: string): DecodeResult<T> {
  return { ok: false, code, reason }
}
