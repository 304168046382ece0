import { inflateSync } from 'node:zlib'
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js'
import { MetricsDecodeError } from './errors.ts'
import {
  HISTOGRAM_CONFIG,
  STANDARD_COUNTS_LENGTH,
  assertStandardConfig,
  createHistogram,
  noteRange
} from './histogram.ts'
import type { Histogram } from './histogram.ts'

/*
 * Wire format: HdrHistogram's standard "V2 compressed" base64 (what Java/Go/Rust HdrHistogram and
 * hdr-histogram-js produce), so histograms can be inspected with existing tools. Encoding uses the
 * library; decoding is our own strict parser because these strings arrive from untrusted peers and
 * the library's decoder trusts its input (no size limits, silently drops out-of-range buckets,
 * accepts any configuration, inflates without an output bound).
 */

const COMPRESSED_COOKIE_BASE = 0x1c849304
const UNCOMPRESSED_COOKIE_BASE = 0x1c849303
const HEADER_BYTES = 40
/** Worst case for a standard histogram: every bucket holds a count needing the full 9-byte varint. */
const MAX_PAYLOAD_BYTES = STANDARD_COUNTS_LENGTH * 9
/** Base64 of deflate's worst case for that payload (deflate adds < 0.1% to incompressible input), rounded up. */
export const MAX_ENCODED_HISTOGRAM_CHARS = 300_000
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/

/** Encodes a histogram as compressed base64 (HdrHistogram V2), typically a few hundred bytes. */
export function encodeHistogram(h: Histogram): string {
  assertStandardConfig(h, 'encodeHistogram')
  return encodeIntoCompressedBase64(h)
}

/**
 * Decodes and validates an encoded histogram from an untrusted source. Throws `MetricsDecodeError`
 * (code 'ERR_BAD_HISTOGRAM') naming the problem and `where` for: a non-string, non-base64 or
 * oversized input, a wrong cookie, a truncated or corrupt body, a configuration other than the
 * loadmesh one, buckets beyond the range, or counts that are not exact integers.
 */
export function decodeHistogram(encoded: unknown, where = 'histogram'): Histogram {
  const h = createHistogram()
  decodeInto(h, encoded, where)
  return h
}

/**
 * Adds the buckets of an encoded histogram to `target` (a merge without allocating a histogram).
 * Validation is complete before `target` is touched, so a bad input leaves it unchanged.
 */
export function decodeInto(target: Histogram, encoded: unknown, where = 'histogram'): void {
  assertStandardConfig(target, 'decodeInto target')
  const buckets = parseEncoded(encoded, where)
  if (buckets.length === 0) return
  let total = 0
  let lo = -1
  let hi = -1
  for (let k = 0; k < buckets.length; k += 2) {
    const index = buckets[k]
    const count = buckets[k + 1]
    target.addToCountAtIndex(index, count)
    total += count
    if (lo < 0 && index > 0) lo = index
    hi = index
  }
  target.setTotalCount(target.totalCount + total)
  noteRange(target, lo, hi)
}

function fail(where: string, problem: string): never {
  throw new MetricsDecodeError('ERR_BAD_HISTOGRAM', `${where}: ${problem}`)
}

/**
 * Validates an encoded histogram and returns its non-zero buckets as [index, count, index, count, ...]
 * in increasing index order, without building a histogram (cheap percentiles of stored windows).
 */
export function decodeBuckets(encoded: unknown, where = 'histogram'): number[] {
  return parseEncoded(encoded, where)
}

function parseEncoded(encoded: unknown, where: string): number[] {
  if (typeof encoded !== 'string') fail(where, `expected a base64 string, got ${describe(encoded)}`)
  const text = encoded.trim()
  if (text.length === 0) fail(where, 'empty string')
  if (text.length > MAX_ENCODED_HISTOGRAM_CHARS) {
    fail(where, `${text.length} characters is larger than the limit of ${MAX_ENCODED_HISTOGRAM_CHARS}`)
  }
  if (text.length % 4 !== 0 || !BASE64_RE.test(text)) fail(where, 'not valid base64')
  const bytes = Buffer.from(text, 'base64')
  if (bytes.length < 8) fail(where, `${bytes.length} bytes is too short for an HdrHistogram`)
  const cookie = bytes.readUInt32BE(0)
  if (((cookie & ~0xf0) >>> 0) !== COMPRESSED_COOKIE_BASE) {
    fail(where, `not a compressed HdrHistogram V2 (cookie 0x${cookie.toString(16)})`)
  }
  const compressedLength = bytes.readUInt32BE(4)
  if (compressedLength > bytes.length - 8) {
    fail(where, `truncated: header announces ${compressedLength} compressed bytes, ${bytes.length - 8} present`)
  }
  let raw: Buffer
  try {
    raw = inflateSync(bytes.subarray(8, 8 + compressedLength), {
      maxOutputLength: HEADER_BYTES + MAX_PAYLOAD_BYTES
    })
  } catch (err) {
    const tooBig = err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
    fail(where, tooBig ? 'decompresses to more than a standard histogram can hold' : 'corrupt compressed body')
  }
  if (raw.length < HEADER_BYTES) fail(where, `decompressed body of ${raw.length} bytes is shorter than the header`)
  const inner = raw.readUInt32BE(0)
  if (((inner & ~0xf0) >>> 0) !== UNCOMPRESSED_COOKIE_BASE) {
    fail(where, `body is not an HdrHistogram V2 encoding (cookie 0x${inner.toString(16)})`)
  }
  const payloadLength = raw.readUInt32BE(4)
  const digits = raw.readInt32BE(12)
  const lowest = raw.readBigUInt64BE(16)
  const highest = raw.readBigUInt64BE(24)
  if (
    digits !== HISTOGRAM_CONFIG.numberOfSignificantValueDigits ||
    lowest !== BigInt(HISTOGRAM_CONFIG.lowestDiscernibleValue) ||
    highest !== BigInt(HISTOGRAM_CONFIG.highestTrackableValue)
  ) {
    fail(
      where,
      `foreign configuration (lowest ${lowest}, highest ${highest}, ${digits} digits); ` +
        `loadmesh histograms are (lowest 1, highest ${HISTOGRAM_CONFIG.highestTrackableValue}, 3 digits)`
    )
  }
  if (payloadLength > raw.length - HEADER_BYTES) {
    fail(where, `truncated: header announces ${payloadLength} payload bytes, ${raw.length - HEADER_BYTES} present`)
  }
  return parsePayload(raw, HEADER_BYTES, HEADER_BYTES + payloadLength, where)
}

function parsePayload(buf: Buffer, start: number, end: number, where: string): number[] {
  const out: number[] = []
  let pos = start
  let index = 0
  let total = 0
  while (pos < end) {
    // ZigZag LEB128: at most 8 bytes for anything below 2^56; counts must stay below 2^53.
    let raw = 0
    let scale = 1
    let byte = 0
    let n = 0
    do {
      if (pos >= end) fail(where, `truncated count at byte ${pos}`)
      if (n === 8) fail(where, `count at byte ${pos} is too large`)
      byte = buf[pos++]
      raw += (byte & 0x7f) * scale
      scale *= 128
      n++
    } while ((byte & 0x80) !== 0)
    if (raw > Number.MAX_SAFE_INTEGER) fail(where, `count at byte ${pos} is too large`)
    const value = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2
    if (value < 0) {
      index += -value
      if (index > STANDARD_COUNTS_LENGTH) fail(where, `zero run past the last bucket (${STANDARD_COUNTS_LENGTH})`)
      continue
    }
    if (index >= STANDARD_COUNTS_LENGTH) fail(where, `bucket ${index} is past the last bucket (${STANDARD_COUNTS_LENGTH - 1})`)
    if (value > 0) {
      total += value
      if (total > Number.MAX_SAFE_INTEGER) fail(where, 'total count is too large to be exact')
      out.push(index, value)
    }
    index++
  }
  return out
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v
}
