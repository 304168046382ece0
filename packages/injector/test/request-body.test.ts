import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bodyObject, createBodyEncoder } from '../src/request-body.ts'
import type { RequestSpec } from '../src/index.ts'

test('property: the pre-built body is byte-identical to JSON.stringify of the documented body', () => {
  fc.assert(fc.property(
    fc.string({ unit: 'binary', maxLength: 8 }).map((s) => s.toWellFormed()),
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.toWellFormed()),
    fc.constantFrom('/v1/chat/completions' as const, '/v1/completions' as const, '/v1/embeddings' as const, '/v1/moderations' as const),
    fc.nat({ max: 100_000 }),
    fc.boolean(),
    fc.boolean(),
    (model, prompt, endpoint, maxTokens, streamAsked, includeUsage) => {
      // Embeddings and moderations never stream (send refuses it).
      const stream = streamAsked && (endpoint === '/v1/chat/completions' || endpoint === '/v1/completions')
      const req: RequestSpec = { endpoint, prompt, inputTokens: 1, maxTokens, stream, includeUsage }
      const enc = createBodyEncoder(model)
      const expected = JSON.stringify(bodyObject(model, req))
      assert.equal(enc.encode(req), expected)
      // Templates are cached per shape; a second request of the same shape must not reuse the prompt.
      assert.equal(enc.encode({ ...req, prompt: `${prompt}!` }), JSON.stringify(bodyObject(model, { ...req, prompt: `${prompt}!` })))
    }
  ), { seed: 99, numRuns: 300 })
})

test('stream_options is sent only for streamed requests that ask for usage', () => {
  const enc = createBodyEncoder('m')
  const base: RequestSpec = { endpoint: '/v1/chat/completions', prompt: 'p', inputTokens: 1, maxTokens: 4, stream: true, includeUsage: true }
  assert.deepEqual(JSON.parse(enc.encode(base)).stream_options, { include_usage: true })
  assert.equal(JSON.parse(enc.encode({ ...base, includeUsage: false })).stream_options, undefined)
  assert.equal(JSON.parse(enc.encode({ ...base, stream: false })).stream_options, undefined)
})

test('extraBody is merged last and overrides the defaults', () => {
  const enc = createBodyEncoder('m')
  const body = JSON.parse(enc.encode({ endpoint: '/v1/completions', prompt: 'p', inputTokens: 1, maxTokens: 4, stream: false, includeUsage: false, extraBody: { max_tokens: 9, temperature: 0 } }))
  assert.deepEqual(body, { model: 'm', prompt: 'p', max_tokens: 9, stream: false, temperature: 0 })
})

test('embeddings and moderations send {model, input} and nothing else', () => {
  const enc = createBodyEncoder('emb-1')
  for (const endpoint of ['/v1/embeddings', '/v1/moderations'] as const) {
    const req: RequestSpec = { endpoint, prompt: 'a "quoted"\ntext', inputTokens: 3, maxTokens: 64, stream: false, includeUsage: true }
    assert.deepEqual(JSON.parse(enc.encode(req)), { model: 'emb-1', input: 'a "quoted"\ntext' })
    // A chat body of the same shape cached first must not leak into them.
    enc.encode({ ...req, endpoint: '/v1/chat/completions' })
    assert.deepEqual(JSON.parse(enc.encode(req)), { model: 'emb-1', input: 'a "quoted"\ntext' })
    assert.deepEqual(JSON.parse(enc.encode({ ...req, extraBody: { dimensions: 256 } })), { model: 'emb-1', input: 'a "quoted"\ntext', dimensions: 256 })
  }
})

test('property: one encoder switching between request shapes always encodes the current shape', () => {
  const shape = fc.record({
    endpoint: fc.constantFrom('/v1/chat/completions' as const, '/v1/completions' as const, '/v1/embeddings' as const),
    stream: fc.boolean(),
    includeUsage: fc.boolean(),
    prompt: fc.string({ maxLength: 12 })
  })
  fc.assert(fc.property(fc.array(shape, { minLength: 1, maxLength: 20 }), (reqs) => {
    const enc = createBodyEncoder('m')
    for (const r of reqs) {
      const req: RequestSpec = { ...r, stream: r.stream && r.endpoint !== '/v1/embeddings', inputTokens: 1, maxTokens: 7 }
      assert.equal(enc.encode(req), JSON.stringify(bodyObject('m', req)))
    }
  }), { seed: 5, numRuns: 200 })
})
