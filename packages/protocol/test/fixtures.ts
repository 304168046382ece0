import fc from 'fast-check'
import type { Command, Heartbeat, ResultsDelta, RunPlan, WireWindow } from '../src/index.ts'
import { schema } from '../src/schema.ts'

/** A libp2p-style peer id (base58 Ed25519 ids are 52 characters). */
export const PEER_A = '12D3KooWGzBkQw9Gx7dXvzdHu1PFWn2VkSTdFPHaR9NEMnb2ktZa'
export const PEER_B = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

export function heartbeat(over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    peer_id: PEER_A,
    role: 'agent',
    weight: 1,
    seq: 42,
    wall_ms: 1_764_300_000_123,
    mono_ms: 123_456.789,
    run_id: 'run-2025-11-28T04:00:00Z',
    epoch: 3,
    plan_id: 'cmd-7f3a',
    plan_stamp: 17,
    achieved_rate: 99.7,
    in_flight: 12,
    sent: 12_345,
    completed: 12_300,
    failed: 33,
    dropped: 0,
    loop_delay_p99_ms: 4.2,
    degraded: false,
    max_rate: 500,
    listen_addrs: ['/ip4/127.0.0.1/tcp/40123', '/ip4/10.0.0.5/tcp/40123'],
    ...over
  }
}

export const CONFIG_JSON = JSON.stringify({
  target: 'http://127.0.0.1:8000',
  model: 'llama',
  endpoint: '/v1/chat/completions',
  mode: 'open',
  rate: 100
})

export function plan(over: Partial<RunPlan> = {}): RunPlan {
  return {
    run_id: 'run-1',
    seed: 'seed-xyz',
    start_wall_ms: 1_764_300_010_000,
    stages: [
      { duration_ms: 30_000, rate: 50, concurrency: 0 },
      { duration_ms: 60_000, rate: 100.5, concurrency: 0 }
    ],
    config_json: CONFIG_JSON,
    target_allow: ['http://127.0.0.1:8000', 'https://llm.internal:8443'],
    ...over
  }
}

export function planCommand(p: RunPlan = plan(), over: Partial<Command> = {}): Command {
  return { lamport: 5, id: 'cmd-1', issuer: PEER_A, mesh: 'lab', body: { type: 'plan', plan: p }, ...over }
}

export function wireWindow(over: Partial<WireWindow> = {}): WireWindow {
  return {
    index: 7,
    duration_ms: 1000,
    revision: 3,
    closed: true,
    counters: {
      scheduled: 100,
      sent: 100,
      completed: 97,
      failed: 3,
      dropped: 0,
      errors: { http_503: 2, timeout: 1 },
      input_tokens: 5000,
      output_tokens: 9700,
      reasoning_tokens: 0,
      tokens_from_usage: 97,
      tokens_counted: 0,
      content_chunks: 9700,
      streamed_output_tokens: 9700,
      slo_met: 95,
      clamped: {}
    },
    histograms: { ttft: new Uint8Array([1, 2, 3]), e2e: new Uint8Array([4, 5]) },
    ...over
  }
}

export function results(over: Partial<ResultsDelta> = {}): ResultsDelta {
  return { run_id: 'run-1', peer_id: PEER_A, windows: [wireWindow()], ...over }
}

/**
 * Encodes a raw object with the schema, without any validation: what a buggy or hostile peer can
 * put on the wire. 64-bit fields may be given as decimal strings to exceed 2^53.
 */
export function rawEncode(type: keyof typeof schema, value: Record<string, unknown>): Uint8Array {
  const t = schema[type]
  return t.encode(t.fromObject(value)).finish()
}

// ---- fast-check arbitraries ----------------------------------------------------------------------

/** Decoded values are plain objects; fast-check builds null-prototype ones unless told. */
const plain = { noNullPrototype: true } as const

const idChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/'.split(''))
export const arbId = fc.string({ unit: idChar, minLength: 1, maxLength: 64 })
const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const nonNeg = fc.double({ min: 0, max: 1e15, noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x))
const positive = fc.double({ min: 1e-6, max: 1e6, noNaN: true, noDefaultInfinity: true })

export const arbHeartbeat: fc.Arbitrary<Heartbeat> = fc
  .record({
    peer_id: arbId,
    role: fc.constantFrom('agent' as const, 'controller' as const),
    weight: positive,
    seq: count,
    wall_ms: nonNeg,
    mono_ms: fc.option(nonNeg, { nil: undefined }),
    run_id: fc.option(arbId, { nil: '' }),
    epoch: fc.integer({ min: 0, max: 0xffffffff }),
    plan_id: fc.option(arbId, { nil: '' }),
    plan_stamp: count,
    achieved_rate: nonNeg,
    in_flight: count,
    sent: count,
    completed: count,
    failed: count,
    dropped: count,
    loop_delay_p99_ms: nonNeg,
    degraded: fc.boolean(),
    max_rate: nonNeg,
    listen_addrs: fc.array(fc.string({ minLength: 1, maxLength: 80 }), { maxLength: 5 })
  }, plain)
  .map((h) => {
    const { mono_ms, ...rest } = h
    return mono_ms === undefined ? rest : { ...rest, mono_ms }
  })

const counterKey = fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/)
export const arbWindow: fc.Arbitrary<WireWindow> = fc.record({
  index: fc.integer({ min: 0, max: 10_000_000 }),
  duration_ms: fc.integer({ min: 1, max: 86_400_000 }),
  revision: count,
  closed: fc.boolean(),
  counters: fc.record({
    scheduled: count,
    sent: count,
    completed: count,
    failed: count,
    dropped: count,
    errors: fc.dictionary(counterKey, count, { maxKeys: 4, ...plain }),
    input_tokens: count,
    output_tokens: count,
    reasoning_tokens: count,
    tokens_from_usage: count,
    tokens_counted: count,
    content_chunks: count,
    streamed_output_tokens: count,
    slo_met: count,
    clamped: fc.dictionary(counterKey, count, { maxKeys: 2, ...plain })
  }, plain),
  histograms: fc.dictionary(counterKey, fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxKeys: 4, ...plain })
}, plain)
