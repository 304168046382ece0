import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createBreakdownRecorder, deriveMetrics, emptyResult, mergeBreakdowns, OTHER_LABEL } from '../src/index.ts'
import type { Breakdown, BreakdownRecorder, RequestResult } from '../src/index.ts'
import { buckets } from './helpers.ts'

const ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/moderations']
const KINDS = ['bidi', 'empty', 'nested-json']
const INTENTS = ['code', 'chat', 'search']

interface Spec { ep: number; intent: number; adv: number; e2e: number; ok: boolean; weight: number; shard: number }

function result(s: Spec, at: number): RequestResult {
  const r = emptyResult(at, ENDPOINTS[s.ep], s.ep < 2)
  r.sentAt = at
  r.firstTokenAt = r.firstContentAt = at + s.e2e / 3
  r.lastTokenAt = r.endAt = at + s.e2e
  r.itls = s.ep < 2 ? [s.e2e / 6, s.e2e / 6] : []
  r.outputTokens = s.ep < 2 ? 3 + (s.e2e % 17) : 0
  r.inputTokens = 10 + s.intent * 100
  r.ok = s.ok
  if (!s.ok) r.errorClass = s.e2e % 2 === 0 ? 'http_500' : 'timeout'
  r.labels = {
    classes: { intent: INTENTS[s.intent] },
    ...(s.adv < KINDS.length ? { adversarial: KINDS[s.adv] } : {}),
    weight: s.weight
  }
  return r
}

const OPTIONS = { dimensions: ['endpoint', 'class', 'adversarial'] as const, weighted: true }

/** Every count, error map and histogram bucket; weights to 1e-9 (float sums depend on order). */
function shape(b: Breakdown): unknown {
  const dims: Record<string, unknown> = {}
  for (const [dim, values] of Object.entries(b.dimensions)) {
    const out: Record<string, unknown> = {}
    const vs = values ?? {}
    for (const k of Object.keys(vs).sort()) {
      const s = vs[k]
      const hs: Record<string, unknown> = {}
      for (const [m, h] of Object.entries(s.histograms)) if (h !== undefined && h.totalCount > 0) hs[m] = buckets(h)
      out[k] = { c: s.completed, f: s.failed, e: s.errors, i: s.input_tokens, o: s.output_tokens, w: Math.round(s.weight * 1e9), hs }
    }
    dims[dim] = out
  }
  const w = b.weighted
  const wh: Record<string, unknown> = {}
  if (w !== null) for (const [m, h] of Object.entries(w.histograms)) if (h !== undefined && h.totalCount > 0) wh[m] = buckets(h)
  return { dims, overflow: b.overflow, weighted: w === null ? null : { w: Math.round(w.weight * 1e9), c: Math.round(w.completed_weight * 1e9), wh } }
}

function record(rec: BreakdownRecorder, r: RequestResult): void {
  rec.record(r, deriveMetrics(r))
}

test('merging the breakdowns of shards of a run equals the breakdown of the whole run (property)', () => {
  const spec = fc.record({
    ep: fc.integer({ min: 0, max: 3 }),
    intent: fc.integer({ min: 0, max: 2 }),
    adv: fc.integer({ min: 0, max: 5 }),
    e2e: fc.integer({ min: 1, max: 30_000 }),
    ok: fc.boolean(),
    weight: fc.constantFrom(1, 0.5, 2, 0.001, 37.5),
    shard: fc.integer({ min: 0, max: 3 })
  })
  fc.assert(fc.property(fc.array(spec, { maxLength: 80 }), (specs) => {
    const whole = createBreakdownRecorder(OPTIONS)
    const shards = [0, 1, 2, 3].map(() => createBreakdownRecorder(OPTIONS))
    specs.forEach((s, i) => {
      record(whole, result(s, i * 10))
      record(shards[s.shard], result(s, i * 10))
    })
    const merged = mergeBreakdowns(shards.map((r) => r.snapshot()))
    assert.deepEqual(shape(merged), shape(whole.snapshot()))
    // The order of the parts does not matter.
    assert.deepEqual(shape(mergeBreakdowns(shards.map((r) => r.snapshot()).reverse())), shape(merged))
  }), { seed: 20261128, numRuns: 60 })
})

test('merge leaves its inputs untouched and has no weighted view when no input has one', () => {
  const a = createBreakdownRecorder({ dimensions: ['endpoint'] })
  record(a, result({ ep: 0, intent: 0, adv: 9, e2e: 100, ok: true, weight: 1, shard: 0 }, 0))
  const snap = a.snapshot()
  const before = shape(snap)
  const m = mergeBreakdowns([snap, snap])
  assert.deepEqual(shape(snap), before)
  assert.equal(m.weighted, null)
  assert.equal(m.dimensions.endpoint?.['/v1/chat/completions'].completed, 2)
  assert.deepEqual(mergeBreakdowns([]), { dimensions: {}, overflow: {}, weighted: null })
})

test('values beyond the bound fold into (other) by fewest requests, whatever the order of the peers', () => {
  // Two peers each saw 3 classes; together 5, bound 3: the 2 smallest go to (other).
  const peer = (counts: Record<string, number>): Breakdown => {
    const rec = createBreakdownRecorder({ dimensions: ['class'] })
    let t = 0
    for (const [intent, n] of Object.entries(counts)) {
      for (let k = 0; k < n; k++) {
        const r = result({ ep: 0, intent: 0, adv: 9, e2e: 50, ok: true, weight: 1, shard: 0 }, t++)
        r.labels = { classes: { intent } }
        record(rec, r)
      }
    }
    return rec.snapshot()
  }
  const p1 = peer({ a: 10, b: 5, c: 1 })
  const p2 = peer({ a: 1, d: 8, e: 2 })
  const m = mergeBreakdowns([p1, p2], { maxValues: 3 })
  const cls = m.dimensions.class ?? {}
  assert.deepEqual(Object.keys(cls), ['intent=a', 'intent=b', 'intent=d', OTHER_LABEL])
  assert.equal(cls[OTHER_LABEL].completed, 3)
  assert.equal(m.overflow.class, 3)
  assert.deepEqual(shape(mergeBreakdowns([p2, p1], { maxValues: 3 })), shape(m))
  let total = 0
  for (const s of Object.values(cls)) total += s.completed
  assert.equal(total, 27, 'folding loses no request')
  assert.throws(() => mergeBreakdowns([p1], { maxValues: 0 }), RangeError)
})
