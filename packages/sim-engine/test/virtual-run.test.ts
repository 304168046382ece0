import { test } from 'node:test'
import assert from 'node:assert/strict'
import { REPORT_SCHEMA } from '@loadmesh/report'
import { runVirtual } from '../src/index.ts'
import type { VirtualRunOptions } from '../src/index.ts'
import { testProfile } from './helpers.ts'

const base: VirtualRunOptions = {
  profile: 'h100-llama3.1-8b-fp8',
  concurrency: 8,
  inputTokens: 'fixed:200',
  outputTokens: 'fixed:50',
  durationMs: 5000,
  seed: 3,
  wallStart: Date.UTC(2025, 0, 1)
}

test('a virtual run returns the same report a real run makes, faster than real time', async () => {
  const r = await runVirtual(base)
  const rep = r.report
  assert.equal(rep.schema, REPORT_SCHEMA)
  assert.equal(rep.started_at, '2025-01-01T00:00:00.000Z')
  assert.equal(rep.requests.failed, 0)
  assert.ok(rep.requests.completed > 100)
  assert.equal(rep.requests.sent, rep.requests.completed)
  assert.equal(rep.tokens.output_total, rep.requests.completed * 50)
  assert.equal(rep.tokens.input_total, rep.requests.completed * 200)
  assert.equal(rep.tokens.output_tokens_source.usage, rep.requests.completed)
  assert.equal(rep.tokens.tokens_per_chunk, 1)
  assert.equal(rep.latency_ms.itl.count, rep.requests.completed * 49)
  assert.ok((rep.latency_ms.ttft.p50 as number) > 5 && (rep.latency_ms.ttft.p50 as number) < 200)
  assert.equal(rep.latency_ms.schedule_lag.max, 0)
  assert.ok(rep.windows.length >= 5)
  assert.deepEqual((rep.config as { virtual: unknown }).virtual, { profile: 'h100-llama3.1-8b-fp8', replicas: 1, routing: 'round-robin', max_waiting: null, tokens_per_chunk: 1, faults: [] })
  assert.ok(rep.warnings.some((w) => w.startsWith('virtual time: profile h100-llama3.1-8b-fp8')))
  assert.ok(r.virtualMs >= 5000)
  assert.ok(r.speedup > 5, `virtual run should beat real time, speed-up ${r.speedup}`)
})

test('same seed, same report; another seed, another run', async () => {
  const strip = (r: Awaited<ReturnType<typeof runVirtual>>): unknown => ({ ...r.report, tool: { ...r.report.tool, node: '' } })
  const o: VirtualRunOptions = { ...base, inputTokens: 'lognormal:mean=300,stdev=200,min=10,max=2000', outputTokens: 'negbin:mean=40,r=2,min=1,max=300', concurrency: undefined, rate: 30 }
  const a = await runVirtual(o)
  const b = await runVirtual(o)
  assert.deepEqual(strip(a), strip(b))
  const c = await runVirtual({ ...o, seed: 4 })
  assert.notDeepEqual(c.report.histograms, a.report.histograms)
})

test('open loop: arrivals at the rate for the whole duration, SLO goodput from the same recorder', async () => {
  const r = await runVirtual({ ...base, concurrency: undefined, rate: 20, arrival: 'constant', durationMs: 10_000, slo: 'ttft=30ms' })
  assert.equal(r.report.requests.scheduled, 200)
  assert.equal(r.report.throughput.target_rate, 20)
  assert.equal(r.report.throughput.achieved_rate, 20)
  assert.ok(r.report.duration_s >= 10)
  assert.notEqual(r.report.goodput.slo, null)
  assert.ok(r.report.goodput.met > 0 && r.report.goodput.met <= 200)
})

test('non-streamed requests are recorded as the injector records them: one chunk at the end', async () => {
  const r = await runVirtual({ ...base, stream: false, durationMs: 2000 })
  assert.equal(r.report.latency_ms.itl.count, 0)
  assert.equal(r.report.tokens.tokens_per_chunk, null)
  assert.equal(r.report.latency_ms.ttft.p50, r.report.latency_ms.e2e.p50)
})

test('faults in a virtual run: a crash shows as failures, the fleet keeps serving', async () => {
  const r = await runVirtual({
    ...base, profile: testProfile(), replicas: 2, concurrency: 16, durationMs: 4000, outputTokens: 'fixed:50',
    faults: [{ atMs: 1000, fault: { kind: 'crash', replica: 0, restartMs: 1000 } }]
  })
  const errs = r.report.requests.errors
  assert.ok((errs.sse_error ?? 0) > 0, `streams cut by the crash fail as SSE errors: ${JSON.stringify(errs)}`)
  assert.ok(r.report.requests.completed > 50)
  assert.equal(r.report.requests.failed, Object.values(errs).reduce((a, b) => a + b, 0))
})

test('maxWaiting makes load-emergent 503s, refused at once', async () => {
  const r = await runVirtual({ ...base, profile: testProfile(), concurrency: undefined, rate: 400, durationMs: 2000, maxWaiting: 4, outputTokens: 'fixed:100' })
  assert.ok((r.report.requests.errors.http_503 ?? 0) > 0)
  assert.ok(r.report.requests.completed > 0)
})

test('a request slower than the timeout is recorded as a timeout', async () => {
  const r = await runVirtual({ ...base, profile: testProfile(), concurrency: 1, durationMs: 1000, outputTokens: 'fixed:100', timeoutMs: 500 })
  assert.ok((r.report.requests.errors.timeout ?? 0) >= 1)
  assert.equal(r.report.requests.completed, 0)
})

test('bad options are refused with a clear error', async () => {
  await assert.rejects(runVirtual({ ...base, rate: 5 }), { code: 'ERR_BAD_VIRTUAL_RUN', message: /rate and concurrency are exclusive/ })
  await assert.rejects(runVirtual({ ...base, concurrency: undefined }), { message: /virtual run rate: must be a positive number/ })
  await assert.rejects(runVirtual({ ...base, durationMs: 0 }), { message: /durationMs/ })
  await assert.rejects(runVirtual({ ...base, profile: 'fixed' }), { message: /needs a step profile/ })
  await assert.rejects(runVirtual({ ...base, inputTokens: 'lots' }), { code: 'ERR_BAD_SPEC', message: /virtual run inputTokens/ })
})

test('virtual time moves on through quiet stretches: a slow open loop and steps longer than a second', async () => {
  const slow = await runVirtual({ ...base, concurrency: undefined, rate: 0.2, arrival: 'constant', durationMs: 60_000, maxWallMs: 20_000 })
  assert.equal(slow.report.interrupted, false)
  assert.equal(slow.report.requests.completed, 12)
  const longSteps = await runVirtual({ ...base, profile: testProfile({ step_cost: { t0_ms: 1500 } }), concurrency: 2, durationMs: 10_000, outputTokens: 'fixed:3', maxWallMs: 20_000 })
  assert.equal(longSteps.report.interrupted, false)
  assert.ok(longSteps.report.requests.completed >= 2)
})
