import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRng } from '@loadmesh/workload'
import { createModelSampler, fitWorkloadModel, loadWorkloadModel, parseWorkloadLog, validateWorkloadModel, ModelFormatError } from '../src/index.ts'
import type { SampledRequest, WorkloadModel } from '../src/index.ts'
import { createLengthModel } from '../src/length-model.ts'

function base (): Record<string, unknown> {
  return {
    schema: 'loadmesh.workload-model/v1',
    input: { chosen: { kind: 'lognormal', mu: 6, sigma: 0.5, min: 1, max: 100000 } },
    output: { chosen: { kind: 'negbin', mean: 100, r: 3, min: 1, max: 100000 } },
    // Two minutes: 60/min then 240/min.
    arrivals: { ratePerMinute: [60, 240], periodMs: 120_000, process: { chosen: { kind: 'poisson' } } },
    classes: [
      { key: 'endpoint=/v1/chat/completions', labels: { endpoint: '/v1/chat/completions' }, weight: 3, endpoint: '/v1/chat/completions', streamRatio: 1 },
      { key: 'endpoint=/v1/embeddings', labels: { endpoint: '/v1/embeddings' }, weight: 1, endpoint: '/v1/embeddings', streamRatio: null, output: { chosen: { kind: 'empirical', values: [0], counts: [1] } } }
    ]
  }
}

function draw (model: WorkloadModel, n: number, seed = 1, overrides = {}): Array<SampledRequest & { atMs: number }> {
  const s = createModelSampler(model, createRng(seed), overrides)
  let t = 0
  return Array.from({ length: n }, () => {
    const r = s.next()
    t += r.gapMs
    return { ...r, atMs: t }
  })
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

test('a hand-written model samples its classes, endpoints, stream ratio and per-minute profile', () => {
  const model = validateWorkloadModel(base(), 'hand.json')
  const rs = draw(model, 30_000)
  const chat = rs.filter((r) => r.endpoint === '/v1/chat/completions')
  const emb = rs.filter((r) => r.endpoint === '/v1/embeddings')
  assert.ok(Math.abs(chat.length / rs.length - 0.75) < 0.015)
  assert.ok(chat.every((r) => r.stream === true && r.classes.endpoint === '/v1/chat/completions'))
  assert.ok(emb.every((r) => r.stream === null && r.outputTokens === 0))
  assert.ok(rs.every((r) => r.weight === 1 && r.sessionId === null && r.turn === null && r.gapMs >= 0))
  // The profile: over whole 2-minute cycles, a quarter of the arrivals in minute 1.
  const end = Math.floor(rs[rs.length - 1].atMs / 120_000) * 120_000
  const whole = rs.filter((r) => r.atMs < end)
  const first = whole.filter((r) => r.atMs % 120_000 < 60_000).length
  assert.ok(Math.abs(first / whole.length - 0.2) < 0.01, `share in minute 1: ${first / whole.length}`)
  assert.ok(Math.abs(whole.length / (end / 60_000) - 150) < 3, 'mean rate 150/min')
})

test('overrides: three times the rate (same profile shape), inputs twice as long, outputs scaled', () => {
  const model = validateWorkloadModel(base(), 'hand.json')
  const plain = draw(model, 20_000, 3)
  const scaled = draw(model, 20_000, 3, { rateScale: 3, inputScale: 2, outputScale: 0.5 })
  const rate = (rs: typeof plain): number => rs.length / rs[rs.length - 1].atMs
  assert.ok(Math.abs(rate(scaled) / rate(plain) - 3) < 0.1, `rate ratio ${rate(scaled) / rate(plain)}`)
  // Same seed: the same lengths, scaled (independent streams per aspect).
  for (let i = 0; i < 100; i++) {
    assert.equal(scaled[i].inputTokens, Math.round(plain[i].inputTokens * 2))
    assert.equal(scaled[i].endpoint, plain[i].endpoint)
  }
  const chatOut = (rs: typeof plain): number => mean(rs.filter((r) => r.endpoint === '/v1/chat/completions').map((r) => r.outputTokens))
  assert.ok(Math.abs(chatOut(scaled) / chatOut(plain) - 0.5) < 0.01)
  assert.throws(() => createModelSampler(model, createRng(1), { rateScale: 0 }), { code: 'ERR_BAD_SPEC', message: /rateScale must be a positive number, got 0/ })
})

test('same seed, same requests', () => {
  const model = validateWorkloadModel(base(), 'hand.json')
  assert.deepEqual(draw(model, 500, 42), draw(model, 500, 42))
  assert.notDeepEqual(draw(model, 50, 42), draw(model, 50, 43))
})

test('bad model files: errors name the file and the JSON path', () => {
  const bad = (mutate: (m: Record<string, any>) => void): string => {
    const m = base() as Record<string, any>
    mutate(m)
    try {
      validateWorkloadModel(m, 'model.json')
    } catch (err) {
      assert.ok(err instanceof ModelFormatError)
      assert.equal(err.code, 'ERR_BAD_MODEL')
      return err.message
    }
    return assert.fail('accepted')
  }
  assert.equal(bad((m) => { m.schema = 'something-else' }), 'model.json: schema: expected "loadmesh.workload-model/v1" (not a loadmesh workload model?), got "something-else"')
  assert.match(bad((m) => { m.schema = 'loadmesh.workload-model/v9' }), /unsupported version "loadmesh\.workload-model\/v9"/)
  assert.equal(bad((m) => { m.input.chosen.sigma = -1 }), 'model.json: input.chosen.sigma: expected a number in (0, 10], got -1')
  assert.equal(bad((m) => { m.classes[1].endpoint = '/v1/images' }), 'model.json: classes[1].endpoint: expected one of "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/moderations", got "/v1/images"')
  assert.match(bad((m) => { m.output.chosen = { kind: 'empirical', values: [5, 3], counts: [1, 1] } }), /output\.chosen\.values\[1\]: values must be strictly increasing, got 3 after 5/)
  assert.match(bad((m) => { m.arrivals.periodMs = 500_000 }), /arrivals\.periodMs: must cover the 2 minutes of ratePerMinute, i\.e\. be in \(60000, 120000\], got 500000/)
  assert.match(bad((m) => { m.input.chosen = { kind: 'negbin', mean: 10, r: 2, min: 5000, max: 6000 } }), /input\.chosen: .*holds practically none of the distribution/)
  assert.match(bad((m) => { m.arrivals.process.chosen = { kind: 'mmpp2', rates: [0, 0], switchRates: [1, 1] } }), /arrivals\.process\.chosen\.rates: at least one rate must be positive/)
})

test('loadWorkloadModel: missing file and invalid JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wm-'))
  try {
    const path = join(dir, 'model.json')
    writeFileSync(path, '{"schema": ')
    assert.throws(() => loadWorkloadModel(path), { code: 'ERR_BAD_MODEL', message: new RegExp(`^${path}: not valid JSON`) })
    assert.throws(() => loadWorkloadModel(join(dir, 'none.json')), { message: /none\.json: no such file/ })
    writeFileSync(path, JSON.stringify(base()))
    assert.equal(loadWorkloadModel(path).classes.length, 2)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A synthetic chat log: sessions of 1..5 turns whose inputs carry the conversation along. */
function chatLog (sessions: number): string {
  const rng = createRng('chat-log')
  const rows: Array<{ at: number; row: Record<string, unknown> }> = []
  for (let s = 0; s < sessions; s++) {
    let at = s * 2000 + Math.floor(rng.next() * 1000)
    const turns = 1 + Math.floor(rng.next() * 5)
    let context = 0
    const intent = s % 4 === 0 ? 'code' : 'chat'
    for (let t = 1; t <= turns; t++) {
      const input = context + 20 + Math.floor(rng.next() * 80)
      const output = 50 + Math.floor(rng.next() * 200)
      rows.push({ at, row: { session_id: `c${s}`, turn: t, input_tokens: input, output_tokens: output, intent, endpoint: '/v1/chat/completions', stream: t % 2 === 0 } })
      context = input + output
      at += 5000 + Math.floor(rng.next() * 10_000)
    }
  }
  rows.sort((a, b) => a.at - b.at)
  return rows.map(({ at, row }) => JSON.stringify({ at_ms: at, ...row })).join('\n')
}

test('sessions: fitted from a chat log and sampled as conversations whose context accumulates', () => {
  const log = parseWorkloadLog(chatLog(1500), 'chat.jsonl')
  const model = fitWorkloadModel(log, { minClassRecords: 300, maxMixtureComponents: 2 })
  assert.ok(model.sessions !== null)
  assert.equal(model.sessions.contextMode, 'accumulate')
  assert.equal(model.arrivals.unit, 'session')
  assert.ok(model.sessions.prefixReuse > 0.5)
  assert.deepEqual(model.classes.map((c) => c.key).sort(), ['endpoint=/v1/chat/completions|intent=chat', 'endpoint=/v1/chat/completions|intent=code'])
  const code = model.classes.find((c) => c.labels.intent === 'code')
  assert.ok(code !== undefined && Math.abs(code.weight - 0.25) < 0.01 && code.input !== null)
  // Turns per session were uniform on 1..5: mean 3.
  const turnsMean = createLengthModel(model.sessions.turns.chosen).mean()
  assert.ok(Math.abs(turnsMean - 3) < 0.1, `turns mean ${turnsMean}`)
  const rs = draw(validateWorkloadModel(JSON.parse(JSON.stringify(model)), 'm.json'), 20_000, 5)
  const bySession = new Map<string, typeof rs>()
  for (const r of rs) {
    assert.ok(r.sessionId !== null && r.turn !== null)
    const list = bySession.get(r.sessionId) ?? []
    list.push(r)
    bySession.set(r.sessionId, list)
  }
  let multi = 0
  for (const turns of bySession.values()) {
    turns.forEach((r, i) => { assert.equal(r.turn, i + 1) })
    for (let i = 1; i < turns.length; i++) {
      // Accumulate: each turn's input is at least the previous input plus output.
      assert.ok(turns[i].inputTokens >= turns[i - 1].inputTokens + turns[i - 1].outputTokens)
      assert.deepEqual(turns[i].classes, turns[0].classes)
    }
    if (turns.length > 1) multi++
  }
  const meanTurns = rs.length / bySession.size
  assert.ok(meanTurns > 2.6 && meanTurns < 3.4, `mean turns ${meanTurns}`)
  assert.ok(multi > 0)
})
