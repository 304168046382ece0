import { test } from 'node:test'
import assert from 'node:assert/strict'
import { systemClock } from '@loadmesh/clock'
import { createSimulator } from '@loadmesh/simulator'
import { runLocal } from '@loadmesh/agent'
import type { RunConfig } from '@loadmesh/agent'
import { parseLengthSpec, parseDurationSpec } from '@loadmesh/workload'
import { decodeHistogram, summarize } from '@loadmesh/metrics'

function config (target: string, over: Partial<RunConfig> = {}): RunConfig {
  return {
    target,
    model: 'loadmesh-sim',
    endpoint: '/v1/chat/completions',
    duration_ms: 6000,
    mode: 'open',
    rate: 20,
    concurrency: null,
    arrival: 'poisson',
    burstiness: 1,
    input_tokens: parseLengthSpec('lognormal:mean=200,stdev=100,min=16,max=1024'),
    output_tokens: parseLengthSpec('fixed:20'),
    stream: true,
    ignore_eos: false,
    seed: '7',
    slo: {},
    max_in_flight: 1000,
    timeout_ms: 10_000,
    connections: 64,
    max_error_rate: 0,
    fail_on_slo: false,
    ...over
  }
}

// The proof the foundation issue asks for: against a simulator with TTFT 100 ms, ITL 10 ms and 20
// output tokens, the agent must report what the server did, measured from the intended send time.
test('rehearsal against the simulator reports the simulated TTFT, ITL, TPOT and E2E', async () => {
  const sim = createSimulator({ seed: 3, engine: { ttft: parseDurationSpec('100ms'), itl: parseDurationSpec('10ms') } })
  const { url } = await sim.start()
  try {
    const report = await runLocal(config(url), { clock: systemClock() })
    const l = report.latency_ms
    assert.equal(report.requests.failed, 0, JSON.stringify(report.requests.errors))
    assert.ok(report.requests.completed > 80, `completed ${report.requests.completed}`)
    assert.equal(report.requests.completed, report.requests.sent)
    assert.ok(l.ttft.p50! >= 100 && l.ttft.p50! <= 106, `ttft p50 ${l.ttft.p50}`)
    // The server spaces tokens 10 ms apart or more, and many gaps are exactly 10 ms (its own ITL
    // histogram had about half of them in its <= 10 ms bucket). The client sees arrivals: each gap
    // plus the difference of two delivery delays, which is as often negative as positive. So the
    // median gap is 10 ms give or take tens of µs (9.975-10.023 over six runs), and a bound of
    // exactly 10 failed about one run in five.
    assert.ok(l.itl.p50! >= 9.95 && l.itl.p50! <= 11.5, `itl p50 ${l.itl.p50}`)
    assert.ok(l.tpot.p50! >= 9.95 && l.tpot.p50! <= 11.5, `tpot p50 ${l.tpot.p50}`)
    assert.ok(l.e2e.p50! >= 290 && l.e2e.p50! <= 310, `e2e p50 ${l.e2e.p50}`)
    // Every request produced exactly 20 tokens, known from the server's usage.
    assert.equal(report.tokens.output_per_request.p50, 20)
    assert.equal(report.tokens.output_tokens_source.counted, 0)
    assert.equal(l.itl.count, report.requests.completed * 19)
    // The report's histograms are the cumulative ones: decoding gives back the summaries.
    const e2e = summarize(decodeHistogram(report.histograms.e2e), { scale: 1000 })
    assert.deepEqual(e2e, l.e2e)
    assert.ok(report.windows.length >= 6)
    assert.equal(report.windows.reduce((s, w) => s + w.completed, 0), report.requests.completed)
  } finally {
    await sim.stop()
  }
})

test('open loop keeps the arrival rate and measures from the intended time when the server is slow', async () => {
  // 40 req/s into a server that takes ~1 s per request: a closed-loop tool would slow down; the open
  // loop must keep sending on schedule (with enough connections) and e2e must include the full time.
  const sim = createSimulator({ seed: 4, engine: { ttft: parseDurationSpec('500ms'), itl: parseDurationSpec('25ms') } })
  const { url } = await sim.start()
  try {
    const report = await runLocal(config(url, { rate: 40, duration_ms: 4000, arrival: 'constant' }), { clock: systemClock() })
    assert.equal(report.requests.scheduled, 160)
    assert.equal(report.requests.sent, 160)
    assert.equal(report.requests.dropped, 0)
    assert.ok(report.throughput.achieved_rate >= 39.5 && report.throughput.achieved_rate <= 40.5, `${report.throughput.achieved_rate}`)
    assert.ok(report.latency_ms.e2e.p50! >= 975, `e2e p50 ${report.latency_ms.e2e.p50}`)
    assert.ok(report.latency_ms.schedule_lag.p99! < 20, `lag p99 ${report.latency_ms.schedule_lag.p99}`)
  } finally {
    await sim.stop()
  }
})

test('the in-flight cap drops requests and counts them instead of sending them late', async () => {
  const sim = createSimulator({ seed: 5, engine: { ttft: parseDurationSpec('1s'), itl: parseDurationSpec('10ms') } })
  const { url } = await sim.start()
  try {
    // 50 req/s for 2 s into a 1.2 s server with at most 10 in flight: about 10 sent in the first
    // second, the rest of that second dropped.
    const report = await runLocal(config(url, { rate: 50, duration_ms: 2000, arrival: 'constant', max_in_flight: 10, connections: 10 }), { clock: systemClock() })
    const r = report.requests
    assert.equal(r.scheduled, 100)
    assert.equal(r.sent + r.dropped, r.scheduled)
    assert.ok(r.dropped >= 60, `dropped ${r.dropped}`)
    assert.ok(r.sent <= 40, `sent ${r.sent}`)
    assert.ok(report.warnings.some((w) => w.includes('dropped')))
    assert.ok(report.latency_ms.schedule_lag.max! < 50, 'nothing was sent late')
  } finally {
    await sim.stop()
  }
})
