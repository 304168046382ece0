import protobuf from 'protobufjs'
import type { Reader, Type } from 'protobufjs'
import { ProtocolError } from './errors.ts'
import { LIST_LIMITS, LIST_TOTAL_LIMITS, MAX_ENTRIES_PER_MESSAGE } from './limits.ts'

/*
 * Checks run on the raw bytes before protobufjs decodes them. The decoder itself is safe against
 * garbage (it throws), but it would happily build millions of objects from a large frame of tiny
 * list entries; this walk counts entries with no allocation and stops at the first one over a limit.
 */

/**
 * Reads field 1 (`version`, a varint) of a top-level message, skipping the other fields without
 * looking inside them. Returns 0 when absent (proto3 default). Throws ProtocolError ERR_MALFORMED
 * when the top level is not a well-formed protobuf message.
 */
export function peekVersion(bytes: Uint8Array, what: string): number {
  const r = protobuf.Reader.create(bytes)
  let version = 0
  try {
    while (r.pos < r.len) {
      const tag = r.uint32()
      const field = tag >>> 3
      const wt = tag & 7
      if (field === 1 && wt === 0) {
        const v = r.uint64()
        version = v.high !== 0 ? Number.MAX_SAFE_INTEGER : v.low >>> 0
      } else {
        r.skipType(wt, 0, field)
      }
    }
  } catch (err) {
    throw new ProtocolError('ERR_MALFORMED', `${what}: not a valid protobuf message (${message(err)})`)
  }
  return version
}

/**
 * Walks the whole message as `type` and throws ProtocolError ERR_TOO_LARGE when a repeated or map
 * field has more entries than LIST_LIMITS allows in one parent, or the message holds more than
 * MAX_ENTRIES_PER_MESSAGE entries in all; ERR_MALFORMED when the structure is broken.
 * Fields with an unexpected wire type are skipped, as the decoder skips them.
 */
export function scanLimits(type: Type, bytes: Uint8Array, what: string): void {
  const r = protobuf.Reader.create(bytes)
  const state: ScanState = { entries: 0, totals: new Map() }
  try {
    scan(r, type, r.len, 0, state, what)
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError('ERR_MALFORMED', `${what}: not a valid protobuf message (${message(err)})`)
  }
}

const MAX_DEPTH = 16

interface ScanState {
  entries: number
  totals: Map<string, number>
}

function scan(r: Reader, type: Type, end: number, depth: number, state: ScanState, what: string): void {
  if (depth > MAX_DEPTH) throw new Error('nested too deeply')
  const counts = new Map<string, number>()
  while (r.pos < end) {
    const tag = r.uint32()
    const id = tag >>> 3
    const wt = tag & 7
    const field = type.fieldsById[id]
    if (field === undefined || wt !== 2 || !(field.repeated || field.map || field.resolvedType instanceof protobuf.Type)) {
      r.skipType(wt, depth, id)
      if (r.pos > end) throw new Error(`field ${id} of ${type.name} overruns its parent`)
      continue
    }
    const length = r.size()
    const subEnd = r.pos + length
    if (subEnd > end) throw new Error(`field ${type.name}.${field.name} overruns its parent`)
    if (field.repeated || field.map) {
      const key = `${type.name}.${field.name}`
      const n = (counts.get(key) ?? 0) + 1
      counts.set(key, n)
      const limit = LIST_LIMITS[key]
      if (n > limit) {
        throw new ProtocolError('ERR_TOO_LARGE', `${what}: ${key} has more than ${limit} entries`)
      }
      const totalLimit = LIST_TOTAL_LIMITS[key]
      if (totalLimit !== undefined) {
        const total = (state.totals.get(key) ?? 0) + 1
        state.totals.set(key, total)
        if (total > totalLimit) {
          throw new ProtocolError('ERR_TOO_LARGE', `${what}: more than ${totalLimit} ${key} entries in one message`)
        }
      }
      if (++state.entries > MAX_ENTRIES_PER_MESSAGE) {
        throw new ProtocolError('ERR_TOO_LARGE', `${what}: more than ${MAX_ENTRIES_PER_MESSAGE} list entries in one message`)
      }
    }
    // Map entries hold only scalars and bytes here: nothing inside them to count.
    if (!field.map && field.resolvedType instanceof protobuf.Type) scan(r, field.resolvedType, subEnd, depth + 1, state, what)
    r.pos = subEnd
  }
  if (r.pos !== end) throw new Error(`${type.name} overruns its parent`)
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
