import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deriveMetrics, emptyResult } from '../src/index.ts'
import type { RequestResult } from '../src/index.ts'
import { failed, streamed } from './helpers.ts'

test('a streamed response: every latency measured from the intended time, service variants from the send', () => {
  // intended 1000, sent 1005, first token 1105, gaps 10/20/30 -> last 1165, end 1166; 4 tokens
  const d = deriveMetrics(streamed(1000, { lag: 5, ttft: 100, gaps: [10, 20, 30] }))
  assert.deepEqual(d, {
    schedule_lag: 5,
    ttft: 105,
    ttft_content: 105,
    ttft_service: 100,
    itl: [10, 20, 30],
    tpot: 20, // (1165 - 1105) / (4 - 1)
    e2e: 165, // last token, not end of body
    e2e_service: 160,
    output_tokens: 4
  })
})

test('tpot divides by tokens, not chunks (several tokens per chunk)', () => {
  const d = deriveMetrics(streamed(0, { gaps: [30, 30], tokens: 7 }))
  assert.equal(d.tpot, 10) // 60 ms over 6 inter-token intervals
  assert.deepEqual(d.itl, [30, 30])
})

test('a reasoning model: ttft is the first reasoning token, ttft_content the first answer token', () => {
  const r: RequestResult = { ...streamed(0, { ttft: 50, gaps: [10, 10, 10, 10] }), firstContentAt: 90, reasoningTokens: 3 }
  const d = deriveMetrics(r)
  assert.equal(d.ttft, 50)
  assert.equal(d.ttft_content, 90)
  // a response that only reasoned has no ttft_content
  assert.equal(deriveMetrics({ ...r, firstContentAt: Number.NaN }).ttft_content, null)
})

test('a single-token response has ttft and e2e but no tpot and no itl', () => {
  const d = deriveMetrics(streamed(0, { ttft: 80, gaps: [] }))
  assert.equal(d.ttft, 80)
  assert.equal(d.e2e, 80)
  assert.equal(d.tpot, null)
  assert.deepEqual(d.itl, [])
  assert.equal(d.output_tokens, 1)
})

test('a non-streamed response: e2e and e2e_service run to the end of the body; no ttft, tpot or itl', () => {
  const r: RequestResult = {
    ...emptyResult(100, '/v1/completions', false),
    sentAt: 102,
    endAt: 700,
    outputTokens: 40,
    outputTokensSource: 'usage',
    ok: true
  }
  const d = deriveMetrics(r)
  assert.equal(d.schedule_lag, 2)
  assert.equal(d.e2e, 600)
  assert.equal(d.e2e_service, 598)
  assert.equal(d.ttft, null)
  assert.equal(d.ttft_service, null)
  assert.equal(d.tpot, null)
  assert.deepEqual(d.itl, [])
  assert.equal(d.output_tokens, 40)
})

test('a failed request contributes only its schedule lag', () => {
  const d = deriveMetrics({ ...failed(0, 30_000, 'timeout', 7), firstTokenAt: 400, lastTokenAt: 900, itls: [5, 5], outputTokens: 3 })
  assert.deepEqual(d, {
    schedule_lag: 7,
    ttft: null,
    ttft_content: null,
    ttft_service: null,
    itl: [],
    tpot: null,
    e2e: null,
    e2e_service: null,
    output_tokens: null
  })
  // never sent: nothing at all
  assert.equal(deriveMetrics(emptyResult(0, '/v1/chat/completions', true)).schedule_lag, null)
})

test('non-finite gaps are dropped rather than recorded', () => {
  const d = deriveMetrics({ ...streamed(0, { gaps: [10, 10] }), itls: [10, Number.NaN, 12] })
  assert.deepEqual(d.itl, [10, 12])
})
