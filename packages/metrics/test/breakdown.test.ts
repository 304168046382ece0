import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createRunRecorder, createHistogram, emptyResult, recordValueCount, summarize, encodeHistogram, decodeHistogram,
  OTHER_LABEL, WEIGHT_UNIT
} from '../src/index.ts'
import type { RequestResult, RequestLabels } from '../src/index.ts'

function done (at: number, endpoint: string, e2eMs: number, labels?: RequestLabels, ok = true): RequestResult {
  const r = emptyResult(at, endpoint, endpoint.includes('completions'))
  r.sentAt = at
  r.firstTokenAt = r.firstContentAt = at + e2eMs / 2
  r.lastTokenAt = at + e2eMs
  r.endAt = at + e2eMs
  r.itls = [e2eMs / 4, e2eMs / 4]
  r.outputTokens = 3
  r.inputTokens = 100
  r.ok = ok
  if (!ok) r.errorClass = 'http_500'
  if (labels !== undefined) r.labels = labels
  return r
}

test('per-endpoint breakdown counts add up to the totals, and each endpoint keeps its own latencies', () => {
  const rec = createRunRecorder({ startAt: 0, breakdown: { dimensions: ['endpoint'] } })
  const endpoints = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']
  for (let i = 0; i < 300; i++) {
    const ep = endpoints[i % 3]
    rec.record(done(i, ep, ep === '/v1/embeddings' ? 10 : 200, undefined, i % 50 !== 7))
  }
  const b = rec.breakdown()
  assert.ok(b !== null)
  const byEp = b.dimensions.endpoint ?? {}
  assert.deepEqual(Object.keys(byEp).sort(), [...endpoints].sort())
  const c = rec.cumulative().counters
  let completed = 0
  let failed = 0
  for (const s of Object.values(byEp)) { completed += s.completed; failed += s.failed }
  assert.equal(completed, c.completed)
  assert.equal(failed, c.failed)
  const e2e = (ep: string): number => summarize(byEp[ep].histograms.e2e ?? createHistogram(), { scale: 1000 }).p50 as number
  assert.ok(e2e('/v1/embeddings') < 11, String(e2e('/v1/embeddings')))
  assert.ok(e2e('/v1/chat/completions') > 190, String(e2e('/v1/chat/completions')))
})

test('class labels: a request counts under each of its labels; the adversarial dimension files ordinary requests under "none"', () => {
  const rec = createRunRecorder({ startAt: 0, breakdown: { dimensions: ['class', 'adversarial'] } })
  rec.record(done(0, '/v1/chat/completions', 50, { classes: { intent: 'code', region: 'eu' } }))
  rec.record(done(1, '/v1/chat/completions', 50, { classes: { intent: 'chat', region: 'eu' }, adversarial: 'bidi' }))
  rec.record(done(2, '/v1/chat/completions', 50))
  const b = rec.breakdown()
  assert.ok(b !== null)
  const cls = b.dimensions.class ?? {}
  assert.equal(cls['intent=code'].completed, 1)
  assert.equal(cls['intent=chat'].completed, 1)
  assert.equal(cls['region=eu'].completed, 2)
  assert.equal(b.dimensions.adversarial?.bidi.completed, 1)
  assert.equal(b.dimensions.adversarial?.none.completed, 2)
})

test('past the bound on distinct values, new values are counted under (other) and the overflow is reported', () => {
  const rec = createRunRecorder({ startAt: 0, breakdown: { dimensions: ['class'], maxValues: 3 } })
  for (let i = 0; i < 10; i++) rec.record(done(i, '/v1/chat/completions', 20, { classes: { user: `u${i}` } }))
  const b = rec.breakdown()
  assert.ok(b !== null)
  const cls = b.dimensions.class ?? {}
  assert.deepEqual(Object.keys(cls).sort(), [OTHER_LABEL, 'user=u0', 'user=u1', 'user=u2'].sort())
  assert.equal(cls[OTHER_LABEL].completed, 7)
  assert.equal(b.overflow.class, 7)
})

test('the weighted view gives weighted percentiles: the production distribution back from an oversampled one', () => {
  // Production: e2e is 100 ms for 99% of requests and 1000 ms for 1%. The run oversampled the slow
  // ones to 50% (weight 0.01/0.5 = 0.02 each) and the fast ones carry 0.99/0.5 = 1.98.
  const rec = createRunRecorder({ startAt: 0, breakdown: { weighted: true } })
  for (let i = 0; i < 1000; i++) {
    const slow = i % 2 === 0
    rec.record(done(i, '/v1/chat/completions', slow ? 1000 : 100, { weight: slow ? 0.02 : 1.98 }))
  }
  // An adversarial request is no production traffic and stays out of the weighted view.
  rec.record(done(2000, '/v1/chat/completions', 60_000, { weight: 1, adversarial: 'empty' }))
  const w = rec.breakdown()?.weighted
  assert.ok(w != null)
  assert.ok(Math.abs(w.weight - 1000) < 1e-6, String(w.weight))
  const s = summarize(w.histograms.e2e ?? createHistogram(), { scale: 1000 })
  // Unweighted, p50 would be 1000 ms; weighted, 99% of the weight is at 100 ms.
  assert.ok(Math.abs((s.p50 as number) - 100) < 0.2, String(s.p50))
  assert.ok(Math.abs((s.p90 as number) - 100) < 0.2, String(s.p90))
  assert.ok(Math.abs((s.p999 as number) - 1000) < 1, String(s.p999))
  assert.ok((s.max as number) < 1001, 'the adversarial request is not in the weighted view')
  assert.ok(Math.abs(s.count / WEIGHT_UNIT - 1000) < 0.01)
  assert.ok(Math.abs((s.mean as number) - (0.99 * 100 + 0.01 * 1000)) < 0.5, String(s.mean))
})

test('recordValueCount adds a value many times, and a weighted histogram survives the codec', () => {
  const h = createHistogram()
  recordValueCount(h, 5000, 3 * WEIGHT_UNIT)
  recordValueCount(h, 7, 1)
  assert.equal(h.totalCount, 3 * WEIGHT_UNIT + 1)
  const back = decodeHistogram(encodeHistogram(h))
  assert.equal(back.totalCount, h.totalCount)
  assert.equal(summarize(back).p50, summarize(h).p50)
  assert.equal(recordValueCount(h, Number.NaN, 3), 'skipped')
  assert.throws(() => recordValueCount(h, 1, 1.5), /integer/)
})

test('without breakdown options the recorder keeps none', () => {
  const rec = createRunRecorder({ startAt: 0 })
  rec.record(done(0, '/v1/chat/completions', 10, { adversarial: 'empty' }))
  assert.equal(rec.breakdown(), null)
})
