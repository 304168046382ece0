import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createManualClock } from '@loadmesh/clock'
import { createLengthSampler, createRng } from '@loadmesh/workload'
import type { LengthSpec } from '@loadmesh/workload'
import { runOpenLoop } from '@loadmesh/injector'
import { fitWorkloadModel, parseWorkloadLog } from '@loadmesh/workload-models'
import type { WorkloadLog, WorkloadModel } from '@loadmesh/workload-models'
import { createRequestSource, parseEndpointMix, parseLongTail, tiltTable, validateRunConfig } from '../src/index.ts'
import type { PlannedRequest, RunConfig } from '../src/index.ts'

const AZURE = fileURLToPath(new URL('../../../test/fixtures/azure-llm-2023-conv.csv', import.meta.url))

function config (over: Partial<RunConfig> = {}): RunConfig {
  return validateRunConfig({
    target: 'http://127.0.0.1:1', model: 'm', endpoint: '/v1/chat/completions', duration_ms: 10_000, mode: 'open', rate: 10,
    concurrency: null, arrival: 'poisson', burstiness: 1, input_tokens: { kind: 'fixed', value: 16 }, output_tokens: { kind: 'fixed', value: 8 },
    stream: true, ignore_eos: false, seed: '1', slo: {}, max_in_flight: 100, timeout_ms: 1000, connections: 4, max_error_rate: 0,
    fail_on_slo: false, ...over
  })
}

/** |observed − expected| within 5 standard deviations of a binomial count. */
function withinBinomial (count: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p))
  assert.ok(Math.abs(count - n * p) <= 5 * sd + 1, `${what}: ${count} of ${n}, expected ${(n * p).toFixed(1)} ± ${(5 * sd).toFixed(1)}`)
}

/** Kolmogorov-Smirnov distance between weighted samples and a CDF. */
function weightedKs (values: number[], weights: number[], cdf: (k: number) => number): number {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b])
  const total = weights.reduce((s, w) => s + w, 0)
  let acc = 0
  let ks = 0
  for (let j = 0; j < order.length; j++) {
    const i = order[j]
    acc += weights[i]
    if (j + 1 < order.length && values[order[j + 1]] === values[i]) continue
    ks = Math.max(ks, Math.abs(acc / total - cdf(values[i])))
  }
  return ks
}

test('endpoint mix proportions are within binomial bounds, and the stream ratio applies to generation requests only', () => {
  const mix = parseEndpointMix('chat=0.7,completions=0.2,embeddings=0.05,moderations=0.05')
  assert.deepEqual(mix.map((e) => e.endpoint), ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/moderations'])
  const source = createRequestSource(config({ endpoint_mix: mix, stream_ratio: 0.8 }), createRng(3), null)
  assert.deepEqual(source.breakdown, { dimensions: ['endpoint'], weighted: false })
  const n = 20_000
  const counts = new Map<string, number>()
  let generation = 0
  let streamed = 0
  for (let i = 0; i < n; i++) {
    const { spec, labels } = source.next()
    counts.set(spec.endpoint, (counts.get(spec.endpoint) ?? 0) + 1)
    assert.equal(labels, undefined)
    if (spec.endpoint === '/v1/embeddings' || spec.endpoint === '/v1/moderations') {
      assert.equal(spec.stream, false, 'embeddings and moderations never stream')
    } else {
      generation++
      if (spec.stream) streamed++
    }
  }
  for (const e of mix) withinBinomial(counts.get(e.endpoint) ?? 0, n, e.weight, e.endpoint)
  withinBinomial(streamed, generation, 0.8, 'streamed generation requests')
  assert.throws(() => parseEndpointMix('chat=0.5,images=0.5'), /"images" is not an endpoint/)
  assert.throws(() => parseEndpointMix('chat=0,embeddings=0'), /must not all be 0/)
  assert.deepEqual(parseEndpointMix('chat=7,embeddings=3').map((e) => e.weight), [0.7, 0.3])
})

test('long tail: rare lengths are drawn far more often, and the weighted lengths are the production distribution', () => {
  const spec: LengthSpec = { kind: 'lognormal', mean: 300, stdev: 400, min: 1, max: 20_000 }
  const lt = parseLongTail('threshold=1e-3,factor=50')
  assert.deepEqual(lt, { threshold: 1e-3, factor: 50 })
  const source = createRequestSource(config({ input_tokens: spec, long_tail: lt }), createRng(5), null)
  assert.deepEqual(source.breakdown, { dimensions: [], weighted: true })
  const production = createLengthSampler(spec, createRng('cdf'))
  const values: number[] = []
  const weights: number[] = []
  const n = 40_000
  for (let i = 0; i < n; i++) {
    const p: PlannedRequest = source.next()
    values.push(p.spec.inputTokens)
    weights.push(p.labels?.weight ?? 1)
  }
  // The same table the source uses: which lengths are rare, and how much of production they are.
  const probs = Array.from({ length: 20_000 }, (_, i) => production.cdf(i + 1) - production.cdf(i))
  const table = tiltTable(probs.map((_, i) => i + 1), probs, lt, 'tails')
  assert.ok(table.rareMass > 0 && table.rareMass <= 2e-3, String(table.rareMass))
  let rareDrawn = 0
  let rareWeight = 0
  for (let i = 0; i < n; i++) {
    if (table.rare[values[i] - 1] === 1) { rareDrawn++; rareWeight += weights[i] }
  }
  // Stressed view: rare lengths are ~50x more frequent than in production.
  withinBinomial(rareDrawn, n, table.sampledRareMass, 'rare draws')
  assert.ok(rareDrawn / n > 30 * table.rareMass)
  // Production view: the weights put them back at their production share, and everything else too.
  const total = weights.reduce((s, w) => s + w, 0)
  assert.ok(Math.abs(total / n - 1) < 0.02, `mean weight ${total / n}`)
  assert.ok(Math.abs(rareWeight / total - table.rareMass) < 0.15 * table.rareMass, `weighted rare share ${rareWeight / total} vs ${table.rareMass}`)
  const ks = weightedKs(values, weights, (k) => production.cdf(k))
  assert.ok(ks < 0.012, `weighted KS ${ks}`)
  const unweightedKs = weightedKs(values, values.map(() => 1), (k) => production.cdf(k))
  assert.ok(unweightedKs > 0.03, `the stressed sample itself is not the production distribution (KS ${unweightedKs})`)
})

test('a replay schedules every record of the window at exactly its scaled log time', async () => {
  const log = parseWorkloadLog(readFileSync(AZURE, 'utf8'), AZURE)
  const c = config({ workload: { kind: 'replay', log: AZURE, format: null, speedup: 60, loop: false, rate_scale: 1, from_ms: 600_000, to_ms: 660_000 }, duration_ms: 1000 })
  const source = createRequestSource(c, createRng(1), { kind: 'replay', log })
  assert.equal(source.ownArrivals, true)
  const clock = createManualClock(0)
  const plan = source.arrivals({ fromMs: 0, toMs: c.duration_ms, rng: createRng(2) })
  const due: number[] = []
  const inputs: number[] = []
  const done = runOpenLoop({
    clock, startAt: 100, durationMs: c.duration_ms, maxInFlight: 10_000, nextGapMs: () => plan.nextGapMs(),
    fire: async (t) => { due.push(t - 100); inputs.push(plan.current().spec.inputTokens) }
  })
  clock.runAll(10_000)
  await done
  const window = log.records.filter((r) => r.atMs >= 600_000 && r.atMs < 660_000)
  assert.ok(window.length > 200)
  assert.equal(due.length, window.length)
  for (let i = 0; i < window.length; i++) {
    assert.ok(Math.abs(due[i] - (window[i].atMs - 600_000) / 60) < 1e-6, `record ${i}: due ${due[i]}`)
    assert.equal(inputs[i], window[i].inputTokens, 'the logged prompt length is sent')
  }
})

function sessionLog (): WorkloadLog {
  const lines: string[] = []
  for (let i = 0; i < 3000; i++) {
    const session = i % 3 === 0 ? `,"session_id":"s${Math.floor(i / 30)}","turn":${1 + (i % 10)}` : ''
    lines.push(`{"at_ms":${i * 20},"input_tokens":${50 + (i % 97)},"output_tokens":${5 + (i % 13)},"endpoint":"${i % 5 === 0 ? '/v1/embeddings' : '/v1/chat/completions'}"${session},"intent":"${i % 200 === 0 ? 'rare' : 'common'}"}`)
  }
  return parseWorkloadLog(lines.join('\n') + '\n', 'sessions.jsonl')
}

test('in a mesh, the log is split by share key: every record goes to exactly one agent, a session to one agent', () => {
  const log = sessionLog()
  const c = config({ workload: { kind: 'replay', log: 'sessions.jsonl', format: null, speedup: 1, loop: false, rate_scale: 1, from_ms: 0, to_ms: null }, duration_ms: 60_001 })
  const source = createRequestSource(c, createRng(1), { kind: 'replay', log })
  const shares = [{ from: 0, to: 0.25, share: 0.25 }, { from: 0.25, to: 0.75, share: 0.5 }, { from: 0.75, to: 1, share: 0.25 }]
  const owner = new Map<number, number>()
  const sessionOwner = new Map<string, number>()
  shares.forEach((share, agent) => {
    const plan = source.arrivals({ fromMs: 0, toMs: c.duration_ms, rng: createRng(0), share })
    let at = 0
    for (;;) {
      at += plan.nextGapMs()
      if (at >= c.duration_ms) break
      const line = log.records.find((r) => Math.abs(r.atMs - at) < 1e-6)
      assert.ok(line !== undefined)
      assert.equal(owner.has(line.line), false, `line ${line.line} sent twice`)
      owner.set(line.line, agent)
      if (line.sessionId !== undefined) {
        assert.equal(sessionOwner.get(line.sessionId) ?? agent, agent, `session ${line.sessionId} split`)
        sessionOwner.set(line.sessionId, agent)
      }
    }
  })
  assert.equal(owner.size, log.records.length)
  const perAgent = [0, 1, 2].map((a) => [...owner.values()].filter((x) => x === a).length)
  assert.ok(perAgent[1] > perAgent[0] && perAgent[1] > perAgent[2], `the agent with half the weight sends the most: ${perAgent}`)
})

let fitted: WorkloadModel | null = null
function model (): WorkloadModel {
  fitted ??= fitWorkloadModel(sessionLog(), { minClassRecords: 100, maxMixtureComponents: 2, classBy: ['endpoint', 'intent'] })
  return fitted
}

test('a model run samples the model: its endpoints, classes and rate', () => {
  const m = model()
  const c = config({ workload: { kind: 'model', model: 'm.json', rate_scale: 3, input_scale: 1, output_scale: 1 } })
  const source = createRequestSource(c, createRng(9), { kind: 'model', model: m })
  assert.deepEqual(source.breakdown, { dimensions: ['endpoint', 'class'], weighted: false })
  const plan = source.arrivals({ fromMs: 0, toMs: 1e9, rng: createRng(4) })
  const n = 6000
  let t = 0
  let embeddings = 0
  let rare = 0
  for (let i = 0; i < n; i++) {
    t += plan.nextGapMs()
    const p = plan.current()
    if (p.spec.endpoint === '/v1/embeddings') embeddings++
    assert.equal(p.spec.stream, p.spec.endpoint === '/v1/embeddings' ? false : p.spec.stream)
    assert.ok(p.labels?.classes?.intent === 'common' || p.labels?.classes?.intent === 'rare', JSON.stringify(p.labels))
    if (p.labels?.classes?.intent === 'rare') rare++
  }
  const shareOf = (pred: (k: WorkloadModel['classes'][number]) => boolean): number => m.classes.filter(pred).reduce((s, k) => s + k.weight, 0)
  withinBinomial(embeddings, n, shareOf((k) => k.endpoint === '/v1/embeddings'), 'embeddings')
  withinBinomial(rare, n, shareOf((k) => k.labels.intent === 'rare'), 'rare intent')
  const rate = n / (t / 1000)
  // Three times the log's request rate (sessions' later turns included).
  const expected = m.source.records / (m.source.durationMs / 1000) * 3
  assert.ok(Math.abs(rate / expected - 1) < 0.05, `rate ${rate} vs ${expected}`)
})

test('long tail on a model: rare classes and lengths oversampled, weights give the production view back', () => {
  const m = model()
  const lt = { threshold: 0.01, factor: 20 }
  const plain = createRequestSource(config({ workload: { kind: 'model', model: 'm.json', rate_scale: 1, input_scale: 1, output_scale: 1 } }), createRng(1), { kind: 'model', model: m })
  const tilted = createRequestSource(config({ workload: { kind: 'model', model: 'm.json', rate_scale: 1, input_scale: 1, output_scale: 1 }, long_tail: lt }), createRng(2), { kind: 'model', model: m })
  const n = 20_000
  const rareWeight = m.classes.filter((k) => k.labels.intent === 'rare').reduce((s, k) => s + k.weight, 0)
  assert.ok(rareWeight > 0 && rareWeight < lt.threshold, `the fixture has a rare class (${rareWeight})`)
  const base: number[] = []
  const values: number[] = []
  const weights: number[] = []
  let rareDrawn = 0
  let rareW = 0
  for (let i = 0; i < n; i++) {
    base.push(plain.next().spec.inputTokens)
    const p = tilted.next()
    values.push(p.spec.inputTokens)
    const w = p.labels?.weight ?? 1
    weights.push(w)
    if (p.labels?.classes?.intent === 'rare') { rareDrawn++; rareW += w }
  }
  const total = weights.reduce((s, w) => s + w, 0)
  assert.ok(rareDrawn / n > 10 * rareWeight, `rare class drawn ${rareDrawn} of ${n}`)
  assert.ok(Math.abs(rareW / total - rareWeight) < 0.3 * rareWeight, `weighted rare share ${rareW / total} vs ${rareWeight}`)
  // Production CDF of input lengths, from the untilted model's own samples.
  const sorted = [...base].sort((a, b) => a - b)
  const cdf = (k: number): number => {
    let lo = 0
    let hi = sorted.length
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (sorted[mid] <= k) lo = mid + 1; else hi = mid }
    return lo / sorted.length
  }
  const ks = weightedKs(values, weights, cdf)
  assert.ok(ks < 0.03, `weighted KS against the production sample ${ks}`)
})

test('a run config names a bad HTTP client (from flags or a peer\'s plan) and keeps a good one', () => {
  assert.throws(() => config({ http_client: 'curl' as unknown as 'auto' }), /--http-client: "curl" is not one of auto, undici/)
  assert.equal(config({ http_client: 'undici' }).http_client, 'undici')
  assert.equal(config().http_client, undefined)
})
