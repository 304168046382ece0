import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deflateSync } from 'node:zlib'
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js'
import {
  MetricsDecodeError,
  createHistogram,
  decodeHistogram,
  decodeInto,
  encodeHistogram,
  recordMs
} from '../src/index.ts'
import { buckets } from './helpers.ts'

/** Hand-built HdrHistogram V2 compressed encodings, to reach the decoder's checks one by one. */
function zigzag(n: number): number[] {
  let v = n >= 0 ? n * 2 : -n * 2 - 1
  const out: number[] = []
  while (v >= 128) {
    out.push((v % 128) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return out
}

function craft(o: { payload: number[]; digits?: number; lowest?: number; highest?: number; cookie?: number }): string {
  const head = Buffer.alloc(40)
  head.writeUInt32BE(o.cookie ?? 0x1c849313, 0)
  head.writeUInt32BE(o.payload.length, 4)
  head.writeUInt32BE(1, 8)
  head.writeUInt32BE(o.digits ?? 3, 12)
  head.writeBigUInt64BE(BigInt(o.lowest ?? 1), 16)
  head.writeBigUInt64BE(BigInt(o.highest ?? 3_600_000_000), 24)
  head.writeBigUInt64BE(1n, 32)
  return wrap(deflateSync(Buffer.concat([head, Buffer.from(o.payload)])))
}

function wrap(compressed: Buffer, announced = compressed.length): string {
  const w = Buffer.alloc(8)
  w.writeUInt32BE(0x1c849314, 0)
  w.writeUInt32BE(announced, 4)
  return Buffer.concat([w, compressed]).toString('base64')
}

function rejects(input: unknown, pattern: RegExp): void {
  assert.throws(
    () => decodeHistogram(input, 'peer X window 3 ttft'),
    (e: unknown) =>
      e instanceof MetricsDecodeError &&
      e.code === 'ERR_BAD_HISTOGRAM' &&
      e.name === 'MetricsDecodeError' &&
      e.message.startsWith('peer X window 3 ttft: ') &&
      pattern.test(e.message),
    `expected ${pattern} for ${String(input).slice(0, 40)}`
  )
}

test('a crafted encoding decodes to exactly the buckets it describes (the test encoder is faithful)', () => {
  const h = decodeHistogram(craft({ payload: [...zigzag(5), ...zigzag(0), ...zigzag(-10), ...zigzag(7)] }))
  assert.deepEqual(buckets(h), [[0, 5], [12, 7]])
  assert.equal(h.totalCount, 12)
})

test('decode rejects inputs that are not histograms, naming the problem', () => {
  rejects(42, /expected a base64 string, got number/)
  rejects(null, /got null/)
  rejects({}, /got object/)
  rejects('', /empty/)
  rejects('not base64 at all!', /not valid base64/)
  rejects('QUJD', /too short/)
  rejects(Buffer.from('hello world, this is not HDR').toString('base64'), /not a compressed HdrHistogram V2/)
  rejects(wrap(Buffer.from('definitely not deflate data')), /corrupt compressed body/)
  const good = Buffer.from(encodeHistogram(createHistogram()), 'base64')
  rejects(good.subarray(0, good.length - 4).toString('base64'), /truncated/)
  rejects(craft({ payload: [], cookie: 0x12345678 }), /not an HdrHistogram V2 encoding/)
})

test('decode rejects oversized inputs, including small ones that inflate hugely', () => {
  rejects('A'.repeat(400_000), /larger than the limit/)
  // 5 MB of zeros deflates to a few KB: the inflated size is bounded, not trusted.
  rejects(wrap(deflateSync(Buffer.alloc(5_000_000))), /decompresses to more than/)
})

test('decode rejects a histogram with a different configuration', () => {
  for (const cfg of [
    { numberOfSignificantValueDigits: 2 as const, highestTrackableValue: 3_600_000_000 },
    { numberOfSignificantValueDigits: 3 as const, highestTrackableValue: 60_000_000 },
    { numberOfSignificantValueDigits: 3 as const, highestTrackableValue: 3_600_000_000, lowestDiscernibleValue: 1000 }
  ]) {
    const foreign = build({ ...cfg, autoResize: false })
    foreign.recordValue(1234)
    rejects(encodeIntoCompressedBase64(foreign), /foreign configuration/)
  }
  rejects(craft({ payload: zigzag(1), digits: 5 }), /foreign configuration .*5 digits/)
})

test('decode rejects buckets past the range and counts that are not exact', () => {
  rejects(craft({ payload: [...zigzag(-23552), ...zigzag(1)] }), /bucket 23552 is past the last bucket/)
  rejects(craft({ payload: [...zigzag(-30000)] }), /zero run past the last bucket/)
  rejects(craft({ payload: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f] }), /too large/)
  rejects(craft({ payload: zigzag(2 ** 53) }), /too large/)
  rejects(craft({ payload: Array.from({ length: 5 }, () => zigzag(2 ** 51)).flat() }), /total count is too large/)
  rejects(craft({ payload: [0x80] }), /truncated count/)
})

test('a rejected input leaves the merge target unchanged', () => {
  const target = createHistogram()
  recordMs(target, 12)
  const before = buckets(target)
  // valid buckets first, then one past the end
  const bad = craft({ payload: [...zigzag(3), ...zigzag(-100), ...zigzag(9), ...zigzag(-23552), ...zigzag(1)] })
  assert.throws(() => decodeInto(target, bad, 'w'), MetricsDecodeError)
  assert.deepEqual(buckets(target), before)
  assert.equal(target.totalCount, 1)
})

test('an empty histogram round-trips and merges as nothing', () => {
  const target = createHistogram()
  recordMs(target, 3)
  decodeInto(target, encodeHistogram(createHistogram()))
  assert.equal(target.totalCount, 1)
  assert.equal(decodeHistogram(encodeHistogram(createHistogram())).totalCount, 0)
})
