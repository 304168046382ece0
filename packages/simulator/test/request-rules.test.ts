import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseGenerationRequest } from '../src/parse-request.ts'
import { ApiRequestError } from '../src/api-error.ts'
import { resolveOutputLength, DEFAULT_OUTPUT_TOKENS } from '../src/output-length.ts'

// Counting words keeps these tests about the parser, not the tokenizer.
const words = (t: string): number => t.split(/\s+/).filter((w) => w.length > 0).length
const chat = (body: unknown) => parseGenerationRequest('/v1/chat/completions', JSON.stringify(body), words)
const completion = (body: unknown) => parseGenerationRequest('/v1/completions', JSON.stringify(body), words)

test('chat prompt tokens: sum over message contents, string or text parts, no template overhead', () => {
  const r = chat({
    model: 'm',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'one two three' }, { type: 'image_url', image_url: { url: 'x' } }] },
      { role: 'assistant', content: null, tool_calls: [] }
    ]
  })
  assert.equal(r.promptTokens, 5)
  assert.equal(r.model, 'm')
  assert.equal(r.stream, false)
})

test('completion prompt: string, token ids, or a one-element array of either', () => {
  assert.equal(completion({ prompt: 'a b c' }).promptTokens, 3)
  assert.equal(completion({ prompt: [1, 2, 3, 4] }).promptTokens, 4)
  assert.equal(completion({ prompt: ['a b'] }).promptTokens, 2)
  assert.equal(completion({ prompt: [[5, 6]] }).promptTokens, 2)
})

test('max_completion_tokens wins over max_tokens; include_usage only counts when streaming', () => {
  const r = chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, max_completion_tokens: 7, stream: true, stream_options: { include_usage: true } })
  assert.equal(r.maxTokens, 7)
  assert.equal(r.includeUsage, true)
  assert.equal(chat({ messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } }).includeUsage, false)
})

function rejects(fn: () => unknown, param: string | null, apiCode: string | null): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ApiRequestError)
    assert.equal(err.status, 400)
    assert.equal(err.type, 'invalid_request_error')
    assert.equal(err.param, param)
    assert.equal(err.apiCode, apiCode)
    return true
  })
}

test('invalid bodies are 400s naming the parameter, with OpenAI codes', () => {
  rejects(() => parseGenerationRequest('/v1/chat/completions', '{"messages": [', words), null, null)
  rejects(() => chat([1, 2]), null, 'invalid_type')
  rejects(() => chat({ model: 'm' }), 'messages', 'missing_required_parameter')
  rejects(() => chat({ messages: [] }), 'messages', 'empty_array')
  rejects(() => chat({ messages: 'hi' }), 'messages', 'invalid_type')
  rejects(() => chat({ messages: [{ content: 'hi' }] }), 'messages[0].role', 'missing_required_parameter')
  rejects(() => chat({ messages: [{ role: 'user', content: 5 }] }), 'messages[0].content', 'invalid_type')
  rejects(() => completion({ model: 'm' }), 'prompt', 'missing_required_parameter')
  rejects(() => completion({ prompt: ['a', 'b'] }), 'prompt', 'unsupported_value')
  rejects(() => completion({ prompt: {} }), 'prompt', 'invalid_type')
  rejects(() => chat({ messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }), 'max_tokens', 'integer_below_min_value')
  rejects(() => chat({ messages: [{ role: 'user', content: 'x' }], max_tokens: 1.5 }), 'max_tokens', 'invalid_type')
  rejects(() => chat({ messages: [{ role: 'user', content: 'x' }], stream: 'yes' }), 'stream', 'invalid_type')
  rejects(() => chat({ messages: [{ role: 'user', content: 'x' }], n: 2 }), 'n', 'unsupported_value')
  rejects(() => chat({ model: 3, messages: [{ role: 'user', content: 'x' }] }), 'model', 'invalid_type')
})

test('output length: the sampled natural length, capped by max_tokens with finish_reason length', () => {
  const sample = (v: number) => () => v
  assert.deepEqual(resolveOutputLength({ maxTokens: 100, ignoreEos: false }, sample(40)), { tokens: 40, finishReason: 'stop' })
  assert.deepEqual(resolveOutputLength({ maxTokens: 30, ignoreEos: false }, sample(40)), { tokens: 30, finishReason: 'length' })
  assert.deepEqual(resolveOutputLength({ maxTokens: 40, ignoreEos: false }, sample(40)), { tokens: 40, finishReason: 'length' })
  assert.deepEqual(resolveOutputLength({ maxTokens: undefined, ignoreEos: false }, sample(900)), { tokens: 900, finishReason: 'stop' })
  assert.deepEqual(resolveOutputLength({ maxTokens: 10, ignoreEos: false }, sample(0)), { tokens: 1, finishReason: 'stop' })
})

test('output length without a spec: max_tokens (length), else the default (stop); ignore_eos forces the cap', () => {
  assert.deepEqual(resolveOutputLength({ maxTokens: 12, ignoreEos: false }, undefined), { tokens: 12, finishReason: 'length' })
  assert.deepEqual(resolveOutputLength({ maxTokens: undefined, ignoreEos: false }, undefined), { tokens: DEFAULT_OUTPUT_TOKENS, finishReason: 'stop' })
  assert.equal(DEFAULT_OUTPUT_TOKENS, 256)
  assert.deepEqual(resolveOutputLength({ maxTokens: undefined, ignoreEos: false }, undefined, 64), { tokens: 64, finishReason: 'stop' })
  assert.deepEqual(resolveOutputLength({ maxTokens: 500, ignoreEos: true }, () => 3), { tokens: 500, finishReason: 'length' })
})
