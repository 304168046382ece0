import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { systemClock } from '@loadmesh/clock'
import { createInjector } from '@loadmesh/injector'
import { captureInjectorRequest, contentLength, startFastServer } from '../src/index.ts'

const req = (stream: boolean) => ({
  endpoint: '/v1/chat/completions' as const, prompt: 'hello there', inputTokens: 2, maxTokens: 16, stream, includeUsage: true
})

test('the loadmesh injector reads the fast server\'s streamed and plain answers as valid OpenAI responses', async () => {
  const server = await startFastServer({ contentChunks: 32, writes: 4 })
  const clock = systemClock()
  const inj = createInjector({ baseUrl: `http://127.0.0.1:${server.port}`, model: 'bench', timeoutMs: 5000, connections: 2, clock })
  try {
    const s = await inj.send(req(true), clock.now())
    assert.equal(s.ok, true, s.errorMessage)
    assert.equal(s.contentChunks, 32)
    assert.equal(s.outputTokens, 32)
    assert.equal(s.outputTokensSource, 'usage')
    assert.equal(s.itls.length, 31)
    const p = await inj.send(req(false), clock.now())
    assert.equal(p.ok, true, p.errorMessage)
    assert.equal(p.outputTokens, 7)
    assert.equal(p.streamed, false)
  } finally {
    await inj.close()
    await server.close()
  }
})

test('requests that arrive pipelined in one write each get their answer', async () => {
  const server = await startFastServer({ contentChunks: 1, writes: 1 })
  const body = '{"stream":false}'
  const one = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`
  const got = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: server.port }, () => s.write(one + one + one))
    let text = ''
    s.setEncoding('utf8')
    s.on('data', (d: string) => {
      text += d
      if (text.split('HTTP/1.1 200 OK').length - 1 === 3) { s.destroy(); resolve(text) }
    })
    s.on('error', reject)
  })
  try {
    assert.equal(got.split('"object":"chat.completion"').length - 1, 3)
    assert.equal(server.responses, 3)
  } finally {
    await server.close()
  }
})

test('contentLength reads the header, and refuses chunked bodies and bad values', () => {
  assert.equal(contentLength('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 42'), 42)
  assert.equal(contentLength('POST / HTTP/1.1\r\nhost: x'), 0)
  assert.equal(contentLength('POST / HTTP/1.1\r\ntransfer-encoding: chunked'), -1)
  assert.equal(contentLength('POST / HTTP/1.1\r\ncontent-length: 12x'), -1)
  assert.equal(contentLength('POST / HTTP/1.1\r\ncontent-length:7\r\nx-a: b'), 7)
})

test('the captured request is exactly what the injector sends, so baselines send the same bytes', async () => {
  const a = await captureInjectorRequest('seed-a', false)
  const b = await captureInjectorRequest('seed-a', false)
  const s = await captureInjectorRequest('seed-a', true)
  assert.equal(a.body, b.body, 'same seed, same first request')
  const parsed = JSON.parse(a.body) as { model: string; stream: boolean; max_tokens: number; messages: Array<{ content: string }> }
  assert.equal(parsed.model, 'bench')
  assert.equal(parsed.stream, false)
  assert.ok(parsed.messages[0].content.length > 100)
  assert.equal(a.headers['content-type'], 'application/json')
  assert.equal((JSON.parse(s.body) as { stream: boolean }).stream, true)
  assert.equal(s.headers.accept, 'text/event-stream')
})
