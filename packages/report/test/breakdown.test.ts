import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRunRecorder, decodeHistogram, emptyResult, mergeInto, createHistogram, summarize } from '@loadmesh/metrics'
import type { BreakdownOptions, RequestLabels, RequestResult } from '@loadmesh/metrics'
import { buildReport, renderSummary } from '../src/index.ts'
import type { BreakdownEntry, Report } from '../src/index.ts'

const HEALTHY = { event_loop_delay_ms: { p50: 0.5, p99: 1, max: 3, mean: 0.6 }, cpu: { user_s: 1, system_s: 0.2, utilisation: 0.3 } }

function result (at: number, endpoint: string, ms: number, labels?: RequestLabels, ok = true): RequestResult {
  const streamed = endpoint === '/v1/chat/completions'
  const r = emptyResult(at, endpoint, streamed)
  r.sentAt = at
  r.firstTokenAt = r.firstContentAt = at + ms
  if (streamed) {
    r.itls = [5, 5, 5]
    r.lastTokenAt = r.firstTokenAt + 15
  }
  r.endAt = r.firstTokenAt + (streamed ? 16 : 0)
  r.outputTokens = streamed ? 4 : 0
  r.inputTokens = 40
  r.ok = ok
  if (!ok) r.errorClass = 'http_400'
  if (labels !== undefined) r.labels = labels
  return r
}

function report (results: RequestResult[], breakdown: BreakdownOptions): Report {
  const rec = createRunRecorder({ startAt: 0, breakdown })
  for (const r of results) { rec.onScheduled(r.intendedAt); rec.onSent(r.sentAt); rec.record(r) }
  return buildReport({
    runId: 'b', config: { slo: {} }, startedAt: 0, endedAt: 10_000, durationS: 10, plannedDurationS: 10, targetRate: 10,
    recorder: rec, injector: HEALTHY, tokenizer: 'test', interrupted: false
  })
}

test('the report has a section per dimension with the totals\' summary shape, and the entries add up to the totals', () => {
  const results: RequestResult[] = []
  for (let i = 0; i < 90; i++) {
    const ep = i % 3 === 0 ? '/v1/embeddings' : '/v1/chat/completions'
    const adversarial = i % 10 === 0 ? 'nested-json' : undefined
    results.push(result(i * 100, ep, ep === '/v1/embeddings' ? 8 : 100, { classes: { intent: i % 2 === 0 ? 'code' : 'chat' }, ...(adversarial === undefined ? {} : { adversarial }) }, i !== 5))
  }
  const r = report(results, { dimensions: ['endpoint', 'class', 'adversarial'] })
  const b = r.breakdown
  assert.ok(b !== undefined)
  const finished = r.requests.completed + r.requests.failed
  for (const dim of ['endpoint', 'adversarial'] as const) {
    const section: Record<string, BreakdownEntry> = b[dim] ?? {}
    const sum = Object.values(section).reduce((s: number, e: BreakdownEntry) => s + e.requests.completed + e.requests.failed, 0)
    assert.equal(sum, finished, dim)
  }
  assert.deepEqual(Object.keys(b.class ?? {}).sort(), ['intent=chat', 'intent=code'])
  assert.equal(b.adversarial?.['nested-json'].requests.completed, 9)
  const emb = b.endpoint?.['/v1/embeddings']
  assert.ok(emb !== undefined)
  for (const k of ['count', 'min', 'mean', 'stdev', 'p50', 'p90', 'p95', 'p99', 'p999', 'max']) assert.ok(k in emb.latency_ms.ttft, k)
  assert.ok(Math.abs((emb.latency_ms.ttft.p50 as number) - 8) < 0.1)
  assert.equal(emb.latency_ms.itl.count, 0)
  assert.equal(b.endpoint?.['/v1/chat/completions'].latency_ms.itl.count, 60 * 3 - 3)
  // Entries merge like the totals: the endpoints' e2e histograms add up to the run's.
  const merged = createHistogram()
  for (const e of Object.values(b.endpoint ?? {})) mergeInto(merged, decodeHistogram(e.histograms.e2e))
  assert.deepEqual(summarize(merged, { scale: 1000 }), r.latency_ms.e2e)
  const text = renderSummary(r)
  assert.match(text, /by endpoint/)
  assert.match(text, /\/v1\/embeddings\s+30\s+0/)
  assert.match(text, /by adversarial/)
  assert.equal(r.production_weighted, undefined)
})

test('a dimension with a single value is left out, and a plain run has no breakdown at all', () => {
  const results = Array.from({ length: 10 }, (_, i) => result(i * 100, '/v1/chat/completions', 50))
  const r = report(results, { dimensions: ['endpoint'] })
  assert.equal(r.breakdown, undefined)
  assert.doesNotMatch(renderSummary(r), /by endpoint/)
})

test('production_weighted: weighted percentiles, the sum of weights as count, in the table too', () => {
  const results = Array.from({ length: 200 }, (_, i) => result(i * 10, '/v1/completions', i % 2 === 0 ? 900 : 90, { weight: i % 2 === 0 ? 0.1 : 1.9 }))
  const r = report(results, { weighted: true })
  const pw = r.production_weighted
  assert.ok(pw !== undefined)
  assert.ok(Math.abs(pw.weight - 200) < 1e-6)
  assert.ok(Math.abs(pw.latency_ms.ttft.count - 200) < 0.01)
  assert.ok(Math.abs((pw.latency_ms.ttft.p50 as number) - 90) < 0.1, 'weighted median is the common value')
  assert.ok(Math.abs((r.latency_ms.ttft.p90 as number) - 900) < 1, 'the stressed view is unweighted')
  assert.match(renderSummary(r), /production-weighted/)
})
