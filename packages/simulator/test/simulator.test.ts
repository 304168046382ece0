import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createManualClock } from '@loadmesh/clock'
import type { ManualClock } from '@loadmesh/clock'
import { countTokens } from '@loadmesh/workload'
import { createSimulator } from '../src/index.ts'
import type { Simulator, SimulatorOptions, EngineFactory } from '../src/index.ts'
import { WORDS } from '../src/output-text.ts'
import { readSse } from './sse.ts'

type Json = Record<string, any>

interface Running {
  sim: Simulator
  url: string
  clock: ManualClock
  close(): Promise<void>
}

/**
 * A simulator on a manual clock whose timers are fired by a real 1 ms pump: responses complete as fast
 * as the event loop allows and every simulated time is exact.
 */
async function manual(opts: SimulatorOptions = {}): Promise<Running> {
  const clock = createManualClock()
  const sim = createSimulator({ engine: { ttft: '100ms', itl: '10ms' }, seed: 7, ...opts, clock })
  const { url } = await sim.start()
  const pump = setInterval(() => { clock.runAll() }, 1)
  return { sim, url, clock, close: async () => { clearInterval(pump); await sim.stop() } }
}

const post = (url: string, path: string, body: unknown): Promise<Response> =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })

const chatBody = (extra: Json = {}): Json => ({
  model: 'm1',
  messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Tell me about the weather in Paris today.' }],
  ...extra
})
const chatPromptTokens = countTokens('You are terse.') + countTokens('Tell me about the weather in Paris today.')

const parseAll = (events: Array<{ data: string }>): { chunks: Json[]; done: boolean } => {
  const done = events.at(-1)?.data === '[DONE]'
  return { chunks: events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data) as Json), done }
}

async function untilTrue(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = performance.now() + ms
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

test('streamed chat: role chunk, one chunk per token, finish chunk, usage chunk, [DONE]', async () => {
  const s = await manual()
  try {
    const res = await post(s.url, '/v1/chat/completions', chatBody({ max_tokens: 5, stream: true, stream_options: { include_usage: true } }))
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const { chunks, done } = parseAll(await readSse(res))
    assert.ok(done, 'ends with data: [DONE]')
    assert.equal(chunks.length, 1 + 5 + 1 + 1)
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk')
      assert.equal(c.id, chunks[0].id)
      assert.match(c.id, /^chatcmpl-/)
      assert.equal(c.model, 'm1')
      assert.ok(Number.isInteger(c.created))
    }
    assert.deepEqual(chunks[0].choices, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }])
    const content = chunks.slice(1, 6)
    for (const c of content) {
      assert.equal(c.usage, null)
      assert.equal(c.choices.length, 1)
      assert.equal(c.choices[0].finish_reason, null)
      assert.equal(countTokens(c.choices[0].delta.content), 1, 'one token per chunk')
    }
    const text = content.map((c) => c.choices[0].delta.content).join('')
    assert.equal(countTokens(text), 5)
    assert.deepEqual(chunks[6].choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }])
    assert.deepEqual(chunks[7].choices, [])
    assert.deepEqual(chunks[7].usage, { prompt_tokens: chatPromptTokens, completion_tokens: 5, total_tokens: chatPromptTokens + 5, prompt_tokens_details: { cached_tokens: 0 } })
    assert.deepEqual(s.sim.stats(), { requests: 1, active: 0, tokens: 5, errors: 0, cancelled: 0, faults: 0 })
  } finally { await s.close() }
})

test('streamed completions: text chunks, no role chunk, no usage unless asked', async () => {
  const s = await manual()
  try {
    const res = await post(s.url, '/v1/completions', { model: 'm1', prompt: 'Once upon a time', max_tokens: 4, stream: true })
    const { chunks, done } = parseAll(await readSse(res))
    assert.ok(done)
    assert.equal(chunks.length, 5)
    for (const c of chunks) {
      assert.equal(c.object, 'text_completion')
      assert.match(c.id, /^cmpl-/)
      assert.equal('usage' in c, false)
    }
    assert.ok(chunks.slice(0, 4).every((c) => countTokens(c.choices[0].text) === 1 && c.choices[0].finish_reason === null))
    assert.deepEqual(chunks[4].choices, [{ index: 0, text: '', logprobs: null, finish_reason: 'length' }])
  } finally { await s.close() }
})

test('tokensPerChunk packs several tokens per content chunk', async () => {
  const s = await manual({ tokensPerChunk: 3 })
  try {
    const res = await post(s.url, '/v1/chat/completions', chatBody({ max_tokens: 7, stream: true }))
    const { chunks } = parseAll(await readSse(res))
    const contents = chunks.slice(1, -1).map((c) => countTokens(c.choices[0].delta.content))
    assert.deepEqual(contents, [3, 3, 1])
  } finally { await s.close() }
})

test('non-streamed chat and completions carry the full text and exact usage', async () => {
  const s = await manual()
  try {
    const chat = await (await post(s.url, '/v1/chat/completions', chatBody({ max_tokens: 300 }))).json() as Json
    assert.equal(chat.object, 'chat.completion')
    assert.match(chat.id, /^chatcmpl-/)
    assert.equal(chat.model, 'm1')
    assert.equal(chat.choices.length, 1)
    const choice = chat.choices[0]
    assert.equal(choice.index, 0)
    assert.equal(choice.message.role, 'assistant')
    assert.equal(choice.finish_reason, 'length')
    assert.equal(choice.logprobs, null)
    assert.equal(countTokens(choice.message.content), 300, 'every simulated word is one token')
    assert.deepEqual(chat.usage, { prompt_tokens: chatPromptTokens, completion_tokens: 300, total_tokens: chatPromptTokens + 300, prompt_tokens_details: { cached_tokens: 0 } })

    const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(20)
    const cmpl = await (await post(s.url, '/v1/completions', { model: 'm1', prompt, max_tokens: 3 })).json() as Json
    assert.equal(cmpl.object, 'text_completion')
    assert.equal(countTokens(cmpl.choices[0].text), 3)
    assert.equal(cmpl.choices[0].finish_reason, 'length')
    assert.deepEqual(cmpl.usage, { prompt_tokens: countTokens(prompt), completion_tokens: 3, total_tokens: countTokens(prompt) + 3, prompt_tokens_details: { cached_tokens: 0 } })
  } finally { await s.close() }
})

test('every simulated word is a single token, alone and after a space', () => {
  assert.equal(WORDS.length, 256)
  for (const w of WORDS) {
    assert.equal(countTokens(w), 1, w)
    assert.equal(countTokens(' ' + w), 1, w)
  }
})

const usageOf = async (url: string, body: Json): Promise<[number, string]> => {
  const r = await (await post(url, '/v1/chat/completions', chatBody(body))).json() as Json
  return [r.usage.completion_tokens, r.choices[0].finish_reason]
}

test('output length: spec capped by max_tokens, else max_tokens, else 256', async () => {
  const withSpec = await manual({ outputTokens: 'uniform:min=40,max=60' })
  const plain = await manual()
  try {
    for (let i = 0; i < 5; i++) {
      const [n, reason] = await usageOf(withSpec.url, { max_tokens: 1000 })
      assert.ok(n >= 40 && n <= 60, `sampled ${n}`)
      assert.equal(reason, 'stop')
    }
    assert.deepEqual(await usageOf(withSpec.url, { max_tokens: 30 }), [30, 'length'])
    assert.deepEqual(await usageOf(withSpec.url, { max_tokens: 30, ignore_eos: false, max_completion_tokens: 20 }), [20, 'length'])
    assert.deepEqual(await usageOf(withSpec.url, { max_tokens: 100, ignore_eos: true }), [100, 'length'])
    assert.deepEqual(await usageOf(plain.url, { max_tokens: 17 }), [17, 'length'])
    assert.deepEqual(await usageOf(plain.url, {}), [256, 'stop'])
  } finally {
    await withSpec.close()
    await plain.close()
  }
})

test('GET /v1/models lists the configured models; /health answers 200', async () => {
  const s = await manual({ models: ['alpha', 'beta'] })
  try {
    const list = await (await fetch(s.url + '/v1/models')).json() as Json
    assert.equal(list.object, 'list')
    assert.deepEqual(list.data.map((m: Json) => [m.id, m.object, typeof m.created, m.owned_by]),
      [['alpha', 'model', 'number', 'loadmesh'], ['beta', 'model', 'number', 'loadmesh']])
    const one = await (await fetch(s.url + '/v1/models/beta')).json() as Json
    assert.equal(one.id, 'beta')
    assert.equal((await fetch(s.url + '/health')).status, 200)
    // A request without `model` is answered by the first model.
    const r = await (await post(s.url, '/v1/completions', { prompt: 'hi', max_tokens: 1 })).json() as Json
    assert.equal(r.model, 'alpha')
  } finally { await s.close() }
})

async function expectError(res: Response, status: number, param: string | null, code: string | null): Promise<Json> {
  assert.equal(res.status, status)
  assert.match(res.headers.get('content-type') ?? '', /application\/json/)
  const body = await res.json() as Json
  assert.deepEqual(Object.keys(body), ['error'])
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type'])
  assert.equal(typeof body.error.message, 'string')
  assert.ok(body.error.message.length > 0)
  assert.equal(body.error.type, 'invalid_request_error')
  assert.equal(body.error.param, param)
  assert.equal(body.error.code, code)
  return body
}

test('errors have the OpenAI shape: 400 bad JSON / missing fields, 404 model and path, 405, 413', async () => {
  const strict = await manual({ models: ['only'], acceptAnyModel: false, maxBodyBytes: 1024 })
  const lenient = await manual({ models: ['only'] })
  try {
    const u = strict.url
    await expectError(await post(u, '/v1/chat/completions', '{"model": "only", "messages": ['), 400, null, null)
    await expectError(await post(u, '/v1/chat/completions', { model: 'only' }), 400, 'messages', 'missing_required_parameter')
    await expectError(await post(u, '/v1/completions', { model: 'only' }), 400, 'prompt', 'missing_required_parameter')
    await expectError(await post(u, '/v1/chat/completions', chatBody({ model: 'only', max_tokens: -1 })), 400, 'max_tokens', 'integer_below_min_value')
    const nf = await expectError(await post(u, '/v1/chat/completions', chatBody({ model: 'gpt-x' })), 404, 'model', 'model_not_found')
    assert.match(nf.error.message, /gpt-x/)
    await expectError(await fetch(u + '/v1/models/gpt-x'), 404, 'model', 'model_not_found')
    const np = await expectError(await post(u, '/v1/embeddingz', {}), 404, null, 'unknown_url')
    assert.match(np.error.message, /POST \/v1\/embeddingz/)
    const m1 = await fetch(u + '/v1/chat/completions')
    assert.equal(m1.headers.get('allow'), 'POST')
    await expectError(m1, 405, null, 'method_not_allowed')
    await expectError(await post(u, '/v1/models', {}), 405, null, 'method_not_allowed')
    await expectError(await post(u, '/v1/completions', { prompt: 'x'.repeat(5000) }), 413, null, 'request_too_large')
    assert.equal(strict.sim.stats().requests, 0, 'no rejected request reached the engine')
    assert.equal(strict.sim.stats().errors, 10)
    // By default any model name is served and echoed.
    const ok = await (await post(lenient.url, '/v1/chat/completions', chatBody({ model: 'gpt-x', max_tokens: 1 }))).json() as Json
    assert.equal(ok.model, 'gpt-x')
  } finally {
    await strict.close()
    await lenient.close()
  }
})

test('the same seed gives byte-identical responses; another seed gives other text', async () => {
  const bodies = async (seed: number): Promise<string[]> => {
    const s = await manual({ seed, outputTokens: 'uniform:min=5,max=50' })
    try {
      const out: string[] = []
      for (let i = 0; i < 3; i++) {
        out.push(await (await post(s.url, '/v1/chat/completions', chatBody({ max_tokens: 100 }))).text())
        out.push(await (await post(s.url, '/v1/completions', { prompt: 'x', max_tokens: 100, stream: true })).text())
      }
      return out
    } finally { await s.close() }
  }
  const a = await bodies(11)
  const b = await bodies(11)
  const c = await bodies(12)
  assert.deepEqual(a, b)
  assert.notDeepEqual(a, c)
})

test('a client that disconnects mid-stream cancels the engine work and its timers', async () => {
  const clock = createManualClock()
  const sim = createSimulator({ clock, engine: { ttft: '100ms', itl: '10ms' } })
  const { url } = await sim.start()
  try {
    const ac = new AbortController()
    const res = await fetch(url + '/v1/chat/completions', {
      method: 'POST', body: JSON.stringify(chatBody({ max_tokens: 1000, stream: true })), signal: ac.signal
    })
    assert.equal(sim.stats().active, 1)
    clock.advance(130) // 4 tokens due
    const events = await readSse(res, (_e, all) => all.length < 5) // role + 4 tokens, then hang up
    assert.equal(events.length, 5)
    ac.abort()
    await untilTrue(() => sim.stats().active === 0, 'the engine to drop the request')
    assert.equal(clock.pending(), 0, 'no timer left behind')
    assert.equal(sim.stats().cancelled, 1)
    assert.equal(sim.stats().tokens, 4)
  } finally { await sim.stop() }
})

test('a custom engine plugs in: admission errors become HTTP statuses, later ones SSE error events', async () => {
  const engine: EngineFactory = (ctx) => {
    let active = 0
    return {
      submit(req, sink) {
        if (req.promptTokens > 50) {
          sink.onError({ status: 429, type: 'rate_limit_error', message: 'too big for now', code: 'rate_limit_exceeded' })
          return () => {}
        }
        active++
        const t = ctx.clock.setTimer(() => {
          sink.onTokens(2)
          active--
          sink.onError({ status: 500, type: 'server_error', message: 'replica crashed', code: null })
        }, 5)
        return () => { active--; t.cancel() }
      },
      start() {},
      stop() {},
      active: () => active,
      stats: () => ({ running: active, waiting: 0, kvCacheUsage: 0, preemptions: 0, prefixCacheQueries: 0, prefixCacheHits: 0, promptTokens: 0, generationTokens: 0, replicas: [{ up: true, running: active, waiting: 0, kvCacheUsage: 0 }] }),
      inject() {},
      maxModelLen: () => 4096
    }
  }
  const s = await manual({ engine })
  try {
    const refused = await post(s.url, '/v1/completions', { prompt: 'word '.repeat(100), stream: true })
    assert.equal(refused.status, 429)
    const err = await refused.json() as Json
    assert.deepEqual(err.error, { message: 'too big for now', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' })
    const res = await post(s.url, '/v1/completions', { prompt: 'hi', stream: true })
    assert.equal(res.status, 200)
    const events = await readSse(res)
    // The two tokens came out together, so they share one chunk; then the error and [DONE].
    assert.equal(events.length, 3)
    assert.equal(JSON.parse(events[0].data).choices[0].text.split(' ').filter((w: string) => w !== '').length, 2)
    assert.deepEqual(JSON.parse(events[1].data).error, { message: 'replica crashed', type: 'server_error', param: null, code: null })
    assert.equal(events[2].data, '[DONE]')
    assert.equal(s.sim.stats().errors, 2)
  } finally { await s.close() }
})

test('timing on the real clock: TTFT 100 ms, ITL 10 ms, 20 tokens', async () => {
  const sim = createSimulator({ engine: { ttft: '100ms', itl: '10ms' } })
  const { url } = await sim.start()
  try {
    await fetch(url + '/health') // open the keep-alive connection first
    const t0 = performance.now()
    const res = await post(url, '/v1/chat/completions', chatBody({ max_tokens: 20, stream: true }))
    const events = (await readSse(res)).filter((e) => e.data.includes('"content"') && !e.data.includes('"role"'))
    const tokens = events.map((e) => (JSON.parse(e.data).choices[0].delta.content as string).split(' ').filter((w) => w !== '').length)
    assert.equal(tokens.reduce((a, b) => a + b, 0), 20)
    // One frame per token, unless a timer of this loaded machine fired a whole ITL late: then the
    // tokens due by then share a frame, and the answer still ends on time.
    assert.ok(events.length >= 15, `${events.length} frames`)
    const first = events[0].at - t0
    const last = events[events.length - 1].at - t0
    assert.ok(first >= 95 && first <= 140, `first token after ${first.toFixed(1)} ms`)
    assert.ok(last >= 280 && last <= 340, `last token after ${last.toFixed(1)} ms`)
  } finally { await sim.stop() }
})

test('stop() resolves promptly with a stream in flight and idle keep-alive sockets open', async () => {
  const sim = createSimulator({ engine: { ttft: '10ms', itl: '1s' } })
  const { url } = await sim.start()
  await fetch(url + '/health') // leaves an idle keep-alive socket
  const res = await post(url, '/v1/chat/completions', chatBody({ max_tokens: 100, stream: true }))
  const reading = readSse(res).catch(() => [])
  await untilTrue(() => sim.stats().tokens >= 1, 'the first token')
  const t0 = performance.now()
  await sim.stop()
  assert.ok(performance.now() - t0 < 1000, 'stop() took too long')
  const events = await reading
  assert.ok(events.length < 10, 'the stream did not run to completion')
  assert.equal(sim.stats().active, 0)
  await assert.rejects(fetch(url + '/health'))
})

test('rejects bad options with SimulatorConfigError', () => {
  assert.throws(() => createSimulator({ tokensPerChunk: 0 }), { name: 'SimulatorConfigError', code: 'ERR_BAD_SIM_CONFIG', message: /tokensPerChunk/ })
  assert.throws(() => createSimulator({ models: [] }), { code: 'ERR_BAD_SIM_CONFIG', message: /models/ })
  assert.throws(() => createSimulator({ port: 70000 }), { code: 'ERR_BAD_SIM_CONFIG', message: /port/ })
  assert.throws(() => createSimulator({ engine: { ttft: 'soon', itl: '5ms' } }), /simulator ttft/)
  assert.throws(() => createSimulator({ engine: { kind: 'vllm' as 'fixed', ttft: '1ms', itl: '1ms' } }), { code: 'ERR_BAD_SIM_CONFIG', message: /vllm/ })
})
