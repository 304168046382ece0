import { test } from 'node:test'
import assert from 'node:assert/strict'
import { METRIC_NAMES, createRunRecorder, decodeSnapshot, emptyResult, mergeSnapshots, percentiles } from '@loadmesh/metrics'
import type { RequestResult, RunRecorder, WindowSnapshot } from '@loadmesh/metrics'
import { ProtocolError, decodeEnvelope, encodeEnvelope, windowFromWire, windowToWire } from '../src/index.ts'
import type { DecodeResult, Envelope, Heartbeat } from '../src/index.ts'
import { PEER_A, heartbeat } from './fixtures.ts'

function ok<T>(r: DecodeResult<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.code}: ${r.reason}`)
  return r.value
}

/** xorshift32, fixed seed: the same "traffic" every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

const T0 = 10_000

/**
 * `seconds` of traffic at `rate` req/s: streamed chat completions with TTFT 80-600 ms, 50-300 output
 * tokens at 15-45 ms apart, 2% HTTP 503s. Returns the recorder after everything has finished.
 */
function traffic(rate: number, seconds: number, seed = 1): RunRecorder {
  const rec = createRunRecorder({ startAt: T0 })
  const rand = rng(seed)
  for (let i = 0; i < rate * seconds; i++) {
    const at = T0 + (i * 1000) / rate
    rec.onScheduled(at)
    const sent = at + rand() * 2
    rec.onSent(sent)
    let r: RequestResult
    if (rand() < 0.02) {
      r = { ...emptyResult(at, '/v1/chat/completions', true), sentAt: sent, endAt: sent + 20 + rand() * 50, errorClass: 'http_503' }
    } else {
      const tokens = 50 + Math.floor(rand() * 250)
      const itls = Array.from({ length: tokens - 1 }, () => 15 + rand() * 30)
      const first = sent + 80 + rand() * 520
      const last = first + itls.reduce((a, b) => a + b, 0)
      r = {
        ...emptyResult(at, '/v1/chat/completions', true),
        sentAt: sent,
        firstTokenAt: first,
        firstContentAt: first,
        lastTokenAt: last,
        endAt: last + 1,
        itls,
        contentChunks: tokens,
        outputTokens: tokens,
        outputTokensSource: 'usage',
        inputTokens: 200 + Math.floor(rand() * 800),
        ok: true
      }
    }
    rec.record(r)
  }
  return rec
}

function resultsEnvelope(windows: WindowSnapshot[]): Envelope {
  return { mesh: 'lab', body: { type: 'results', results: { run_id: 'run-1', peer_id: PEER_A, windows: windows.map(windowToWire) } } }
}

test('recorder windows survive the wire unchanged, and metrics decodes them to the same percentiles', () => {
  const rec = traffic(100, 3)
  const windows = rec.windows()
  assert.ok(windows.length >= 3 && windows.some((w) => Object.keys(w.histograms).length >= 8))
  const back = ok(decodeEnvelope(encodeEnvelope(resultsEnvelope(windows))))
  assert.equal(back.body.type, 'results')
  const received = back.body.type === 'results' ? back.body.results.windows.map(windowFromWire) : []
  assert.deepEqual(received, windows)
  for (let i = 0; i < windows.length; i++) {
    const a = decodeSnapshot(windows[i])
    const b = decodeSnapshot(received[i])
    for (const m of METRIC_NAMES) {
      assert.equal(b.histograms[m].totalCount, a.histograms[m].totalCount, `window ${i} ${m}`)
      assert.deepEqual(percentiles(b.histograms[m], [50, 99, 99.9]), percentiles(a.histograms[m], [50, 99, 99.9]))
    }
  }
  // And the merge over everything received equals the merge of the originals (the mesh property).
  assert.deepEqual(mergeSnapshots(received), mergeSnapshots(windows))
})

test('histogram names unknown to this version are carried through (a newer peer may record more)', () => {
  const w = traffic(10, 10).windows()[8]
  assert.ok(w.histograms.ttft !== undefined)
  const future = { ...w, histograms: { ...w.histograms, queue_wait: w.histograms.ttft } } as WindowSnapshot
  const wire = windowToWire(future)
  assert.ok('queue_wait' in wire.histograms)
  assert.deepEqual(windowFromWire(wire), future)
  // metrics ignores the unknown one when decoding.
  assert.equal(decodeSnapshot(windowFromWire(wire)).histograms.ttft.totalCount, decodeSnapshot(w).histograms.ttft.totalCount)
})

test('windowToWire refuses what is not a recorder window', () => {
  const ws = traffic(10, 3).windows()
  const merged = mergeSnapshots([ws[1], ws[2]]) // index 1, starts at 1000, lasts 2000
  assert.throws(
    () => windowToWire(merged),
    (e: unknown) => e instanceof ProtocolError && e.code === 'ERR_INVALID_FIELD' && /start_ms 1000 is not index × duration_ms \(1 × 2000\)/.test(e.message)
  )
  const fractional = createRunRecorder({ startAt: 0, windowMs: 2.5 })
  fractional.onSent(1)
  assert.throws(() => windowToWire(fractional.windows()[0]), /window 0\.duration_ms: must be a non-negative integer, got 2\.5/)
  assert.throws(() => windowToWire({ ...ws[0], histograms: { ttft: 'not base64!' } }), /window 0\.histograms\.ttft: not a base64 string/)
})

test('measured sizes: a heartbeat and a 1-second results delta at 100 req/s', (t) => {
  const hb = (h: Heartbeat) => encodeEnvelope({ mesh: 'lab', body: { type: 'heartbeat', heartbeat: h } }).length
  // No per-peer part since v2 (clock offsets come from direct probes): the same size at any mesh size.
  const hb1 = hb(heartbeat())
  t.diagnostic(`heartbeat: ${hb1} bytes`)
  assert.ok(hb1 < 300)

  // Requests take 1-10 s, so completions reach their steady rate after ~10 s.
  const second = traffic(100, 14).windows()[12]
  assert.ok(second.counters.sent >= 95 && second.counters.completed >= 80, JSON.stringify(second.counters))
  const wire = encodeEnvelope(resultsEnvelope([second])).length
  const json = Buffer.byteLength(JSON.stringify(second))
  const hist = Object.entries(second.histograms)
    .map(([k, v]) => `${k} ${Buffer.from(v as string, 'base64').length}`)
    .join(', ')
  t.diagnostic(
    `results delta, one 1 s window at 100 req/s (${second.counters.completed} completed, ${second.counters.output_tokens} tokens): ` +
      `${wire} bytes on the wire (the snapshot as JSON: ${json}); histogram bytes: ${hist}`
  )
  assert.ok(wire < 8192, `${wire} bytes`)
  assert.ok(wire < json * 0.85, 'protobuf with raw histogram bytes is smaller than the JSON snapshot')
})
