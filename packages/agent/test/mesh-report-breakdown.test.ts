import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRunRecorder, emptyResult, encodeBreakdownSnapshot } from '@loadmesh/metrics'
import type { BreakdownSnapshot, RequestResult, RunRecorder } from '@loadmesh/metrics'
import { createBreakdownStore, createResultsStore, resolveEpochs } from '@loadmesh/mesh-state'
import { renderBreakdown } from '@loadmesh/report'
import { buildMeshReport } from '../src/index.ts'

const ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings'] as const

function result(at: number, endpoint: string, ok: boolean): RequestResult {
  return {
    ...emptyResult(at, endpoint, endpoint.includes('chat')),
    sentAt: at, firstTokenAt: at + 40, firstContentAt: at + 40, lastTokenAt: at + 60, endAt: at + 61,
    itls: [10, 10], contentChunks: 3, outputTokens: 3, outputTokensSource: 'usage', inputTokens: 10, ok,
    ...(ok ? {} : { errorClass: 'http_500' })
  }
}

/** `n` requests over windows 0..(n/10), every third to embeddings, every 25th failing. */
function recorder(n: number, snapshotAfter: number | null): { rec: RunRecorder; early: BreakdownSnapshot | null } {
  const rec = createRunRecorder({ startAt: 0, windowMs: 1000, breakdown: { dimensions: ['endpoint'] } })
  let early: BreakdownSnapshot | null = null
  for (let k = 0; k < n; k++) {
    const at = k * 100
    rec.onScheduled(at)
    rec.onSent(at)
    rec.record(result(at, ENDPOINTS[k % 3 === 0 ? 1 : 0], k % 25 !== 7))
    if (k + 1 === snapshotAfter) early = snapshotOf(rec, false)
  }
  return { rec, early }
}

function snapshotOf(rec: RunRecorder, final: boolean): BreakdownSnapshot {
  const c = rec.cumulative().counters
  const b = rec.breakdown()
  assert.ok(b !== null)
  return { finished: c.completed + c.failed, final, breakdown: b }
}

test('mesh report: per-endpoint sections merged from peer snapshots; a stale and a missing breakdown are named in the coverage', () => {
  const results = createResultsStore()
  const breakdowns = createBreakdownStore()
  // a answered the reconcile after its run (final); b died after answering an earlier reconcile
  // (its snapshot covers 60 of the 100 requests its windows show); c died before any reconcile.
  const a = recorder(100, null)
  const b = recorder(100, 60)
  const c = recorder(50, null)
  for (const [peer, r] of [['a', a], ['b', b], ['c', c]] as const) for (const w of r.rec.windows(100_000)) results.put('r', peer, w)
  assert.equal(breakdowns.putEncoded('r', 'a', encodeBreakdownSnapshot(snapshotOf(a.rec, true))).ok, true)
  assert.equal(breakdowns.putEncoded('r', 'b', encodeBreakdownSnapshot(b.early as BreakdownSnapshot)).ok, true)
  const report = buildMeshReport({
    runId: 'r', selfId: 'a', results, breakdowns, timeline: resolveEpochs('r', []), livePeers: ['a'], clockOffsets: [],
    reconcile: { answered: [], failed: [] }
  })
  assert.equal(report.requests.completed + report.requests.failed, 250)
  const cov = report.breakdown_coverage
  assert.ok(cov !== undefined)
  assert.equal(cov.complete, false)
  assert.equal(cov.finished_covered, 160)
  assert.equal(cov.finished_total, 250)
  assert.deepEqual(cov.peers.map((p) => [p.peer_id, p.status, p.finished_in_breakdown, p.finished_in_windows, p.final]), [
    ['a', 'complete', 100, 100, true],
    ['b', 'stale', 60, 100, false],
    ['c', 'missing', 0, 50, false]
  ])
  assert.equal(cov.text, 'breakdown covers 160 of 250 finished requests: peer b stale (60 of 100 requests), peer c missing (50 requests)')
  assert.ok(report.coverage.text.endsWith(cov.text), report.coverage.text)
  const ep = report.breakdown?.endpoint
  assert.ok(ep !== undefined)
  // a: 34 embeddings of 100; b's first 60: 20 embeddings. Failures: a 4 (k = 7, 32, 57, 82), b 3 (7, 32, 57).
  assert.equal(ep['/v1/embeddings'].requests.completed + ep['/v1/embeddings'].requests.failed, 54)
  assert.equal(ep['/v1/chat/completions'].requests.completed + ep['/v1/chat/completions'].requests.failed, 106)
  const failed = ep['/v1/embeddings'].requests.failed + ep['/v1/chat/completions'].requests.failed
  assert.equal(failed, 7)
  assert.equal(ep['/v1/chat/completions'].latency_ms.e2e.count, ep['/v1/chat/completions'].requests.completed)
  // The single-agent summary's tables render the mesh sections too.
  const lines = renderBreakdown(report.breakdown, report.production_weighted, 250)
  assert.ok(lines.some((l) => l.includes('by endpoint')), lines.join('\n'))
  assert.ok(lines.some((l) => /\/v1\/embeddings\s+\d+\s+\d+/.test(l)), lines.join('\n'))
})

test('mesh report: no breakdown section when no peer keeps one; a complete one says so', () => {
  const results = createResultsStore()
  const breakdowns = createBreakdownStore()
  const a = recorder(30, null)
  for (const w of a.rec.windows(100_000)) results.put('r', 'a', w)
  const input = { runId: 'r', selfId: 'a', results, timeline: resolveEpochs('r', []), livePeers: ['a'], clockOffsets: [], reconcile: { answered: [], failed: [] } }
  const none = buildMeshReport({ ...input, breakdowns })
  assert.equal(none.breakdown, undefined)
  assert.equal(none.breakdown_coverage, undefined)
  breakdowns.put('r', 'a', snapshotOf(a.rec, true))
  const some = buildMeshReport({ ...input, breakdowns })
  assert.equal(some.breakdown_coverage?.complete, true)
  assert.equal(some.breakdown_coverage?.text, 'breakdown: all 1 peer(s) in')
  assert.ok(!some.coverage.text.includes('breakdown'), some.coverage.text)
  assert.deepEqual(Object.keys(some.breakdown?.endpoint ?? {}).sort(), [...ENDPOINTS])
})
