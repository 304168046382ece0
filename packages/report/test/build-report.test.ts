import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRunRecorder, emptyResult, parseSlo } from '@loadmesh/metrics'
import type { RequestResult } from '@loadmesh/metrics'
import { buildReport, evaluateGates, renderSummary } from '../src/index.ts'

const HEALTHY = { event_loop_delay_ms: { p50: 0.5, p99: 1, max: 3, mean: 0.6 }, cpu: { user_s: 1, system_s: 0.2, utilisation: 0.3 } }

function ok (intendedAt: number, lag: number, tokens: number, usage = true): RequestResult {
  const r = emptyResult(intendedAt, '/v1/chat/completions', true)
  r.sentAt = intendedAt + lag
  r.firstTokenAt = r.firstContentAt = r.sentAt + 100
  r.itls = Array.from({ length: tokens - 1 }, () => 10)
  r.lastTokenAt = r.firstTokenAt + 10 * (tokens - 1)
  r.endAt = r.lastTokenAt + 1
  r.contentChunks = tokens
  r.outputTokens = tokens
  r.outputTokensSource = usage ? 'usage' : 'counted'
  r.inputTokens = 50
  r.ok = true
  return r
}

function failed (intendedAt: number, cls: string): RequestResult {
  const r = emptyResult(intendedAt, '/v1/chat/completions', true)
  r.sentAt = intendedAt
  r.endAt = intendedAt + 5
  r.errorClass = cls
  return r
}

function run (results: RequestResult[], drops: number[], slo = '', targetRate: number | null = 10) {
  const rec = createRunRecorder({ startAt: 0, slo: slo === '' ? undefined : parseSlo(slo) })
  for (const r of results) { rec.onScheduled(r.intendedAt); rec.onSent(r.sentAt); rec.record(r) }
  for (const d of drops) { rec.onScheduled(d); rec.onDropped(d) }
  return buildReport({
    runId: 'r1',
    config: { slo: slo === '' ? {} : parseSlo(slo) },
    startedAt: 0,
    endedAt: 10_000,
    durationS: 10,
    plannedDurationS: 10,
    targetRate,
    recorder: rec,
    injector: HEALTHY,
    tokenizer: 'test',
    interrupted: false
  })
}

test('a clean run has the counts, summaries and no warnings', () => {
  const results = Array.from({ length: 100 }, (_, i) => ok(i * 100, 0.2, 11))
  const r = run(results, [])
  assert.equal(r.requests.completed, 100)
  assert.equal(r.throughput.achieved_rate, 10)
  assert.equal(r.latency_ms.ttft.count, 100)
  assert.ok(Math.abs((r.latency_ms.ttft.p50 as number) - 100.2) < 0.2)
  assert.equal(r.latency_ms.itl.count, 1000)
  assert.equal(r.tokens.output_total, 1100)
  assert.equal(r.windows.length, 11, 'the last responses end in second 10')
  assert.deepEqual(r.warnings, [])
  assert.deepEqual(evaluateGates(r, { maxErrorRate: 0, failOnSlo: false }), { errorRateOk: true, sloOk: true, messages: [] })
  assert.match(renderSummary(r), /ttft\s+100/)
})

test('the report warns about a generator that fell behind, drops and client-counted tokens', () => {
  const results = Array.from({ length: 50 }, (_, i) => ok(i * 100, i % 10 === 0 ? 30 : 0.2, 5, i % 2 === 0))
  const r = run(results, [1, 2, 3])
  const text = r.warnings.join('\n')
  assert.match(text, /achieved 5\.00 req\/s, below 95% of the target 10/)
  assert.match(text, /schedule_lag p99/)
  assert.match(text, /3 requests dropped/)
  assert.match(text, /25 responses had no usage/)
})

test('errors fail the error-rate gate; SLO misses fail the SLO gate, counting failures as misses', () => {
  const results = [...Array.from({ length: 97 }, (_, i) => ok(i * 100, 0.2, 5)), failed(9700, 'http_500'), failed(9800, 'timeout'), failed(9900, 'http_500')]
  const r = run(results, [], 'ttft=200ms')
  assert.deepEqual(r.requests.errors, { http_500: 2, timeout: 1 })
  assert.equal(r.goodput.met, 97)
  assert.equal(r.goodput.total, 100)
  const strict = evaluateGates(r, { maxErrorRate: 0, failOnSlo: true })
  assert.equal(strict.errorRateOk, false)
  assert.equal(strict.sloOk, false, 'all latencies pass, but 3% failed: p99 goodput is missed')
  const lenient = evaluateGates(r, { maxErrorRate: 0.05, failOnSlo: false })
  assert.equal(lenient.errorRateOk, true)
  assert.match(renderSummary(r), /SLO gate \(p99\): FAIL/)
})
