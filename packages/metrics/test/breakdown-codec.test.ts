import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  BreakdownDecodeError, MAX_ENCODED_BREAKDOWN_BYTES, createRunRecorder, decodeBreakdownSnapshot, emptyResult,
  encodeBreakdownSnapshot, encodeHistogram, newerSnapshot
} from '../src/index.ts'
import type { BreakdownSnapshot, RequestResult } from '../src/index.ts'
import { buckets } from './helpers.ts'

function snapshot(n: number): BreakdownSnapshot {
  const rec = createRunRecorder({ startAt: 0, breakdown: { dimensions: ['endpoint', 'class', 'adversarial'], weighted: true } })
  for (let k = 0; k < n; k++) {
    const r: RequestResult = {
      ...emptyResult(k, k % 2 === 0 ? '/v1/chat/completions' : '/v1/embeddings', k % 2 === 0),
      sentAt: k, firstTokenAt: k + 30 + k, firstContentAt: k + 30 + k, lastTokenAt: k + 90 + k, endAt: k + 91 + k,
      itls: [5, 7], outputTokens: 4, inputTokens: 100 + k, ok: k % 9 !== 4,
      labels: { classes: { intent: k % 3 === 0 ? 'code' : 'chat' }, weight: k % 4 === 0 ? 0.25 : 3, ...(k % 5 === 0 ? { adversarial: 'bidi' } : {}) }
    }
    if (!r.ok) r.errorClass = 'http_503'
    rec.record(r)
  }
  const b = rec.breakdown()
  assert.ok(b !== null)
  const c = rec.cumulative().counters
  return { finished: c.completed + c.failed, final: true, breakdown: b }
}

const text = (s: BreakdownSnapshot): Record<string, unknown> => JSON.parse(new TextDecoder().decode(encodeBreakdownSnapshot(s))) as Record<string, unknown>
const bytesOf = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))

test('a breakdown snapshot survives encode and decode: counts, weights, errors and every histogram bucket', () => {
  const s = snapshot(90)
  const bytes = encodeBreakdownSnapshot(s)
  assert.ok(bytes.length < 64 * 1024, `${bytes.length} bytes`)
  const d = decodeBreakdownSnapshot(bytes)
  assert.equal(d.finished, 90)
  assert.equal(d.final, true)
  assert.deepEqual(d.breakdown.overflow, s.breakdown.overflow)
  for (const dim of ['endpoint', 'class', 'adversarial'] as const) {
    const want = s.breakdown.dimensions[dim] ?? {}
    const got = d.breakdown.dimensions[dim] ?? {}
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort())
    for (const [k, v] of Object.entries(want)) {
      const { histograms: gh, ...gRest } = got[k]
      const { histograms: wh, ...wRest } = v
      assert.deepEqual(gRest, wRest)
      for (const [m, h] of Object.entries(wh)) assert.deepEqual(buckets(gh[m as keyof typeof gh] ?? assert.fail(m)), buckets(h ?? assert.fail(m)), `${dim}.${k}.${m}`)
    }
  }
  const w = d.breakdown.weighted
  assert.ok(w !== null && s.breakdown.weighted !== null)
  assert.equal(w.weight, s.breakdown.weighted.weight)
  assert.deepEqual(w.errors, s.breakdown.weighted.errors)
  assert.deepEqual(buckets(w.histograms.e2e ?? assert.fail()), buckets(s.breakdown.weighted.histograms.e2e ?? assert.fail()))
})

test('malformed, hostile or oversized breakdowns are refused with BreakdownDecodeError naming the field', () => {
  const good = text(snapshot(10))
  const dims = good.dimensions as Record<string, Record<string, Record<string, unknown>>>
  const anEntry = dims.endpoint['/v1/embeddings']
  const cases: Array<[string, unknown, RegExp]> = [
    ['not json', new TextEncoder().encode('{"v":1,'), /not UTF-8 JSON/],
    ['bad utf-8', new Uint8Array([0x7b, 0xff, 0x7d]), /not UTF-8 JSON/],
    ['not bytes', 'a string', /expected bytes/],
    ['an array', bytesOf([1]), /expected an object/],
    ['other version', bytesOf({ ...good, v: 2 }), /version 2/],
    ['negative finished', bytesOf({ ...good, finished: -1 }), /finished: must be a non-negative integer/],
    ['final not boolean', bytesOf({ ...good, final: 'yes' }), /final must be a boolean/],
    ['unknown dimension', bytesOf({ ...good, dimensions: { region: {} } }), /unknown dimension "region"/],
    ['proto key', new TextEncoder().encode(`{"v":1,"finished":1,"final":true,"overflow":{},"weighted":null,"dimensions":{"endpoint":{"__proto__":${JSON.stringify(anEntry)}}}}`), /invalid label "__proto__"/],
    ['control char label', bytesOf({ ...good, dimensions: { endpoint: { 'a\u0007b': anEntry } } }), /invalid label/],
    ['bidi label', bytesOf({ ...good, dimensions: { endpoint: { 'a\u202eb': anEntry } } }), /invalid label/],
    ['long label', bytesOf({ ...good, dimensions: { endpoint: { ['x'.repeat(257)]: anEntry } } }), /invalid label/],
    ['too many values', bytesOf({ ...good, dimensions: { class: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k=${i}`, anEntry])) } }), /257 values \(limit 256\)/],
    ['fractional count', bytesOf({ ...good, dimensions: { endpoint: { e: { ...anEntry, completed: 1.5 } } } }), /completed: must be a non-negative integer/],
    ['negative weight', bytesOf({ ...good, dimensions: { endpoint: { e: { ...anEntry, weight: -1 } } } }), /weight: must be a finite number/],
    ['bad error key', bytesOf({ ...good, dimensions: { endpoint: { e: { ...anEntry, errors: { 'no spaces': 1 } } } } }), /invalid key/],
    ['unknown metric', bytesOf({ ...good, dimensions: { endpoint: { e: { ...anEntry, histograms: { ttfx: 'AAAA' } } } } }), /unknown metric "ttfx"/],
    ['bad histogram', bytesOf({ ...good, dimensions: { endpoint: { e: { ...anEntry, histograms: { e2e: 'HISTfoo=' } } } } }), /e2e/],
    ['weighted not object', bytesOf({ ...good, weighted: 3 }), /weighted: expected an object/],
    ['overflow negative', bytesOf({ ...good, overflow: { class: -2 } }), /overflow\.class/]
  ]
  for (const [what, input, re] of cases) {
    assert.throws(() => decodeBreakdownSnapshot(input, 'peer p'), (err: unknown) => {
      assert.ok(err instanceof BreakdownDecodeError, `${what}: ${String(err)}`)
      assert.equal(err.code, 'ERR_BAD_BREAKDOWN')
      assert.match(err.message, /^peer p/, what)
      assert.match(err.message, re, what)
      return true
    }, what)
  }
  // Oversized input is refused before it is parsed.
  const huge = new Uint8Array(MAX_ENCODED_BREAKDOWN_BYTES + 1).fill(0x20)
  assert.throws(() => decodeBreakdownSnapshot(huge), /bytes, limit/)
})

test('random corruption of an encoded breakdown is refused cleanly or decodes to valid values, never anything else', () => {
  const bytes = encodeBreakdownSnapshot(snapshot(12))
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
    const b = new Uint8Array(bytes)
    for (const [i, v] of edits) b[i] = v
    try {
      const d = decodeBreakdownSnapshot(b)
      assert.ok(Number.isSafeInteger(d.finished) && d.finished >= 0)
    } catch (err) {
      assert.ok(err instanceof BreakdownDecodeError, String(err))
    }
  }), { seed: 7, numRuns: 300 })
})

test('freshness: more finished requests win; on a tie the final snapshot wins; never the older one', () => {
  const b = snapshot(1).breakdown
  const at = (finished: number, final: boolean): BreakdownSnapshot => ({ finished, final, breakdown: b })
  assert.equal(newerSnapshot(at(5, false), undefined), true)
  assert.equal(newerSnapshot(at(6, false), at(5, true)), true)
  assert.equal(newerSnapshot(at(5, false), at(6, false)), false)
  assert.equal(newerSnapshot(at(5, true), at(5, false)), true)
  assert.equal(newerSnapshot(at(5, false), at(5, true)), false)
  assert.equal(newerSnapshot(at(5, true), at(5, true)), false)
  // The encoder carries the same histogram encoding the report uses.
  const e2e = b.dimensions.endpoint?.['/v1/chat/completions']?.histograms.e2e
  assert.ok(e2e !== undefined)
  const wire = text({ finished: 1, final: false, breakdown: b }) as { dimensions: { endpoint: Record<string, { histograms: Record<string, string> }> } }
  assert.equal(wire.dimensions.endpoint['/v1/chat/completions'].histograms.e2e, encodeHistogram(e2e))
})
