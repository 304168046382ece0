import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import OpenAI from 'openai'
import { countTokens } from '@loadmesh/workload'
import { createSimulator, MODERATION_CATEGORIES } from '../src/index.ts'
import type { Simulator } from '../src/index.ts'

// The official client against the simulator, as a user would point it: base URL .../v1, any key.
let sim: Simulator
let client: OpenAI

before(async () => {
  sim = createSimulator({ engine: { ttft: '2ms', itl: '1ms' }, models: ['loadmesh-sim'], seed: 3 })
  const { url } = await sim.start()
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 })
})
after(async () => { await sim.stop() })

test('chat, not streamed: one choice with exactly max_tokens tokens and exact usage', async () => {
  const r = await client.chat.completions.create({ model: 'loadmesh-sim', messages: [{ role: 'user', content: 'Say something.' }], max_tokens: 12 })
  assert.equal(r.object, 'chat.completion')
  assert.equal(r.choices.length, 1)
  assert.equal(r.choices[0].message.role, 'assistant')
  assert.equal(r.choices[0].finish_reason, 'length')
  assert.equal(countTokens(r.choices[0].message.content ?? ''), 12)
  assert.equal(r.usage?.prompt_tokens, countTokens('Say something.'))
  assert.equal(r.usage?.completion_tokens, 12)
  assert.equal(r.usage?.prompt_tokens_details?.cached_tokens, 0)
})

test('chat, streamed with include_usage: the SDK reassembles the text; the last chunk carries usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'loadmesh-sim', messages: [{ role: 'user', content: 'Stream please.' }], max_tokens: 9, stream: true, stream_options: { include_usage: true }
  })
  let text = ''
  let finish: string | null = null
  let usage: OpenAI.CompletionUsage | null | undefined
  let chunks = 0
  for await (const chunk of stream) {
    chunks++
    if (chunk.choices.length > 0) {
      text += chunk.choices[0].delta.content ?? ''
      finish = chunk.choices[0].finish_reason ?? finish
    }
    if (chunk.usage) usage = chunk.usage
  }
  assert.equal(countTokens(text), 9)
  assert.equal(finish, 'length')
  // Role chunk, content, finish chunk, usage chunk. One content chunk per token unless this loaded
  // machine fired a 1 ms timer 2 ms late: the tokens due by then share a chunk (see FrameFlusher).
  assert.ok(chunks >= 1 + 1 + 1 + 1 && chunks <= 1 + 9 + 1 + 1, `${chunks} chunks`)
  assert.equal(usage?.completion_tokens, 9)
  assert.equal(usage?.prompt_tokens, countTokens('Stream please.'))
})

test('completions, streamed and not', async () => {
  const r = await client.completions.create({ model: 'loadmesh-sim', prompt: 'Once upon a time', max_tokens: 5 })
  assert.equal(r.object, 'text_completion')
  assert.equal(countTokens(r.choices[0].text), 5)
  assert.equal(r.usage?.completion_tokens, 5)
  const s = await client.completions.create({ model: 'loadmesh-sim', prompt: 'Once upon a time', max_tokens: 4, stream: true })
  let text = ''
  for await (const chunk of s) text += chunk.choices[0]?.text ?? ''
  assert.equal(countTokens(text), 4)
})

const norm = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

test('embeddings: unit vectors, deterministic per input, batched strings and token arrays, usage', async () => {
  // The SDK asks for base64 by default and decodes it: this also checks the base64 encoding.
  const a = await client.embeddings.create({ model: 'loadmesh-sim', input: ['hello world', 'goodbye world', 'hello world'] })
  assert.equal(a.object, 'list')
  assert.equal(a.data.length, 3)
  assert.deepEqual(a.data.map((d) => d.index), [0, 1, 2])
  for (const d of a.data) {
    assert.equal(d.object, 'embedding')
    assert.equal(d.embedding.length, 1536)
    assert.ok(Math.abs(norm(d.embedding) - 1) < 1e-5, `unit length, got ${norm(d.embedding)}`)
  }
  assert.deepEqual(a.data[0].embedding, a.data[2].embedding, 'same input, same vector')
  assert.notDeepEqual(a.data[0].embedding, a.data[1].embedding)
  assert.equal(a.usage.prompt_tokens, 2 * countTokens('hello world') + countTokens('goodbye world'))
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens)

  const floats = await client.embeddings.create({ model: 'loadmesh-sim', input: 'hello world', encoding_format: 'float' })
  const b64 = a.data[0].embedding
  floats.data[0].embedding.forEach((x, i) => { assert.ok(Math.abs(x - b64[i]) < 1e-6) })

  const short = await client.embeddings.create({ model: 'loadmesh-sim', input: 'hello world', dimensions: 64 })
  const v = short.data[0].embedding
  assert.equal(v.length, 64)
  assert.ok(Math.abs(norm(v) - 1) < 1e-5)
  // A shortened embedding points the way the full one's first entries do (OpenAI's dimensions semantics).
  const head = b64.slice(0, 64)
  const scale = norm(head)
  head.forEach((x, i) => { assert.ok(Math.abs(x / scale - v[i]) < 1e-5) })

  const ids = await client.embeddings.create({ model: 'loadmesh-sim', input: [[1, 2, 3, 4], [5, 6]] })
  assert.equal(ids.usage.prompt_tokens, 6)
  assert.equal(ids.data.length, 2)
})

test('moderations: OpenAI shape, every category scored, the same verdict for the same text', async () => {
  const r = await client.moderations.create({ input: ['a friendly sentence', 'another one'] })
  assert.match(r.id, /^modr-/)
  assert.equal(r.model, 'omni-moderation-latest')
  assert.equal(r.results.length, 2)
  for (const res of r.results) {
    assert.equal(typeof res.flagged, 'boolean')
    assert.deepEqual(Object.keys(res.categories), [...MODERATION_CATEGORIES])
    for (const c of MODERATION_CATEGORIES) {
      const score = (res.category_scores as unknown as Record<string, number>)[c]
      assert.ok(score >= 0 && score <= 1)
      assert.equal((res.categories as unknown as Record<string, boolean>)[c], score > 0.5)
    }
    assert.equal(res.flagged, Object.values(res.categories).some(Boolean))
    assert.deepEqual((res.category_applied_input_types as unknown as Record<string, string[]>).hate, ['text'])
  }
  const again = await client.moderations.create({ input: 'a friendly sentence' })
  assert.deepEqual(again.results[0], r.results[0])
})

test('moderations flag about 5% of inputs, deterministically', async () => {
  const inputs = Array.from({ length: 400 }, (_, i) => `message number ${i}`)
  const r = await client.moderations.create({ input: inputs })
  const flagged = r.results.filter((x) => x.flagged).length
  assert.ok(flagged >= 6 && flagged <= 40, `${flagged} of 400 flagged`)
})

test('models.list and errors the SDK maps to its error classes', async () => {
  const models = await client.models.list()
  assert.deepEqual(models.data.map((m) => m.id), ['loadmesh-sim'])
  await assert.rejects(
    client.chat.completions.create({ model: 'loadmesh-sim', messages: [{ role: 'user', content: 'hi' }], max_tokens: 200_000 }),
    (err: unknown) => err instanceof OpenAI.BadRequestError && err.code === 'context_length_exceeded'
  )
  await assert.rejects(
    client.chat.completions.create({ model: 'loadmesh-sim', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, { headers: { 'x-loadmesh-fault': 'http_429;retry_after=7' } }),
    (err: unknown) => err instanceof OpenAI.RateLimitError && err.headers?.get('retry-after') === '7'
  )
  await assert.rejects(
    client.embeddings.create({ model: 'loadmesh-sim', input: 'x' }, { headers: { 'x-loadmesh-fault': '503' } }),
    (err: unknown) => err instanceof OpenAI.InternalServerError && err.status === 503
  )
})
