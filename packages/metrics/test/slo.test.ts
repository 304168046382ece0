import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  SloSpecError,
  checkSloGate,
  createRunRecorder,
  deriveMetrics,
  emptyResult,
  formatSlo,
  goodput,
  meetsSlo,
  parseSlo
} from '../src/index.ts'
import type { RequestResult, Slo } from '../src/index.ts'
import { failed, streamed } from './helpers.ts'

test('parseSlo reads durations in any unit into milliseconds', () => {
  assert.deepEqual(parseSlo('ttft=500ms,tpot=50ms,e2e=10s'), { ttft_ms: 500, tpot_ms: 50, e2e_ms: 10_000 })
  assert.deepEqual(parseSlo(' itl = 0.2s , TTFT=1.5s '), { itl_ms: 200, ttft_ms: 1500 })
  assert.deepEqual(parseSlo('e2e=250'), { e2e_ms: 250 })
  assert.equal(formatSlo(parseSlo('e2e=2s,ttft=500ms')), 'ttft=500ms,e2e=2000ms')
})

test('parseSlo errors name the bad part, where it came from, and the valid keys', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty SLO/],
    ['ttft=500ms,', /empty part/],
    ['ttft', /"ttft" is not key=duration \(valid keys: ttft, tpot, e2e, itl\)/],
    ['ttfb=500ms', /unknown SLO key "ttfb" in "ttfb=500ms" \(valid keys: ttft, tpot, e2e, itl\)/],
    ['ttft=fast', /"ttft=fast": "fast" is not a duration/],
    ['ttft=500ms,ttft=1s', /"ttft" is given twice/],
    ['e2e=0s', /greater than 0/]
  ]
  for (const [spec, pattern] of cases) {
    assert.throws(
      () => parseSlo(spec, '--slo'),
      (e: unknown) => e instanceof SloSpecError && e.code === 'ERR_BAD_SLO' && e.message.startsWith('--slo: ') && pattern.test(e.message),
      spec
    )
  }
})

const met = (slo: Slo, r: RequestResult): boolean => meetsSlo(slo, r.ok, r.streamed, deriveMetrics(r))

test('a request meets the SLO only when ok and within every given bound, measured from the intended time', () => {
  const slo = parseSlo('ttft=500ms,tpot=50ms,e2e=2s')
  assert.equal(met(slo, streamed(0, { ttft: 400, gaps: [40, 40] })), true)
  // ttft 400 after sending, but the send lagged 150 ms behind schedule: 550 from the intended time
  assert.equal(met(slo, streamed(0, { lag: 150, ttft: 400, gaps: [40, 40] })), false)
  assert.equal(met(slo, streamed(0, { ttft: 100, gaps: [60, 60] })), false) // tpot 60
  assert.equal(met(slo, streamed(0, { ttft: 100, gaps: Array(50).fill(45) })), false) // e2e 2.35 s
  assert.equal(met(slo, failed(0, 100)), false)
  // tpot is undefined for one token: the bound does not apply
  assert.equal(met(parseSlo('tpot=1ms'), streamed(0, { gaps: [] })), true)
})

test('the itl bound applies to the largest gap of the request', () => {
  const slo = parseSlo('itl=100ms')
  assert.equal(met(slo, streamed(0, { gaps: [20, 20, 99] })), true)
  assert.equal(met(slo, streamed(0, { gaps: [20, 20, 101, 20] })), false) // one stall is a miss
})

test('ttft of a non-streamed response is its e2e; a streamed ok response without tokens misses', () => {
  const body: RequestResult = { ...emptyResult(0, '/v1/completions', false), sentAt: 0, endAt: 300, outputTokens: 9, ok: true }
  assert.equal(met(parseSlo('ttft=500ms'), body), true)
  assert.equal(met(parseSlo('ttft=200ms'), body), false)
  const silent: RequestResult = { ...emptyResult(0, '/v1/chat/completions', true), sentAt: 0, endAt: 50, ok: true }
  assert.equal(met(parseSlo('ttft=500ms'), silent), false)
})

test('goodput counts failures, timeouts and drops as misses in the denominator', () => {
  const rec = createRunRecorder({ startAt: 0, slo: parseSlo('ttft=500ms') })
  for (let i = 0; i < 6; i++) rec.record(streamed(i * 100, { ttft: 100 })) // met
  rec.record(streamed(700, { ttft: 900 })) // too slow
  rec.record(failed(800, 900, 'http_503'))
  rec.record(failed(900, 30_900, 'timeout'))
  rec.onDropped(1000)
  const c = rec.cumulative().counters
  assert.equal(c.slo_met, 6)
  const g = goodput(c, 2, rec.slo)
  assert.deepEqual(g, { slo: { ttft_ms: 500 }, met: 6, total: 10, ratio: 0.6, requests_per_s: 3 })
  assert.equal(goodput(c, 0).requests_per_s, null)
  assert.equal(goodput(createRunRecorder({ startAt: 0 }).cumulative().counters, 1).ratio, null)
})

test('the SLO gate passes only when the goodput ratio reaches the percentile', () => {
  const slo = parseSlo('ttft=500ms,e2e=5s')
  const run = (good: number, bad: number, failures: number) => {
    const rec = createRunRecorder({ startAt: 0, slo })
    for (let i = 0; i < good; i++) rec.record(streamed(i, { ttft: 200 }))
    for (let i = 0; i < bad; i++) rec.record(streamed(i, { ttft: 800 }))
    for (let i = 0; i < failures; i++) rec.record(failed(i, i + 10))
    return rec.cumulative()
  }
  const ok = checkSloGate(slo, run(995, 5, 0), 'p99')
  assert.equal(ok.pass, true)
  assert.deepEqual(ok.reasons, [])
  assert.equal(ok.required_ratio, 0.99)
  // every completed request is fast, but 2% failed: the latency percentiles alone would pass
  const failing = checkSloGate(slo, run(980, 0, 20), 'p99')
  assert.equal(failing.pass, false)
  assert.ok(failing.checks.every((c) => c.within))
  assert.match(failing.reasons[0], /980 of 1000 requests \(98\.0%\) met ttft=500ms,e2e=5000ms; p99 needs 99\.0% \(failed 20, dropped 0\)/)
  // too slow: the reasons point at the bound to blame
  const slow = checkSloGate(slo, run(900, 100, 0), 'p99')
  assert.equal(slow.pass, false)
  const ttft = slow.checks.find((c) => c.metric === 'ttft')
  assert.ok(ttft !== undefined && !ttft.within && (ttft.value_ms as number) >= 800)
  assert.ok(slow.reasons.some((r) => /^ttft p99 800\.\d+ms > 500ms$/.test(r)), slow.reasons.join('|'))
  assert.equal(checkSloGate(slo, run(900, 100, 0), 'p90').pass, true)
  // nothing ran: fail, do not pass vacuously
  assert.deepEqual(checkSloGate(slo, run(0, 0, 0)).reasons, ['no request was completed, failed or dropped'])
})

test('the gate refuses counts made with another SLO', () => {
  const rec = createRunRecorder({ startAt: 0, slo: parseSlo('ttft=1s') })
  rec.record(streamed(0))
  assert.throws(() => checkSloGate(parseSlo('ttft=500ms'), rec.cumulative()), /counted slo_met with "ttft=1000ms", not "ttft=500ms"/)
  assert.throws(() => checkSloGate({}, rec.cumulative()), SloSpecError)
})
