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

test('property: the writer for the own pool writes exactly the UTF-8 bytes of encode(), escapes and lone surrogates included', () => {
  const prompt = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', '\n', '\u0001', '\u007f', 'é', '\ufffd', '\uf8ff', '\ud800', '\udc00', '😀', '\u2028'), maxLength: 30 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 200 })
  )
  fc.assert(fc.property(
    fc.string({ unit: 'binary', maxLength: 8 }),
    prompt,
    fc.constantFrom('/v1/chat/completions' as const, '/v1/completions' as const, '/v1/embeddings' as const),
    fc.oneof(fc.nat({ max: 100_000 }), fc.double()),
    fc.boolean(),
    fc.nat({ max: 40 }),
    (model, p, endpoint, maxTokens, stream, at) => {
      const enc = createBodyEncoder(model)
      const req: RequestSpec = { endpoint, prompt: p, inputTokens: 1, maxTokens, stream: stream && endpoint !== '/v1/embeddings', includeUsage: true }
      const w = enc.writer(req)
      assert.ok(w !== null)
      const want = Buffer.from(enc.encode(req), 'utf8')
      // Written into a dirty buffer at an offset, as the pool's reused scratch buffer is.
      const buf = Buffer.alloc(at + w.maxBytes, 0xab)
      const n = w.writeInto(buf, at)
      assert.ok(n <= w.maxBytes)
      assert.deepEqual(buf.subarray(at, at + n), want)
    }
  ), { seed: 5, numRuns: 2000 })
})

test('extraBody bodies have no writer: they go through encode()', () => {
  const enc = createBodyEncoder('m')
  const req: RequestSpec = { endpoint: '/v1/completions', prompt: 'p', inputTokens: 1, maxTokens: 4, stream: false, includeUsage: false }
  assert.ok(enc.writer(req) !== null)
  assert.equal(enc.writer({ ...req, extraBody: { temperature: 0 } }), null)
  assert.ok(enc.writer({ ...req, extraBody: {} }) !== null)
})
