import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { buildRawRequest, buildSseResponse, createEventEndCounter, createRawSseReader, startFastServer } from '../src/index.ts'

const enc = (s: string): Buffer => Buffer.from(s, 'utf8')

test('the event-end counter counts each blank line once, however the stream is split', () => {
  const events = ['data: {"a":1}\n\n', 'data: x\ndata: y\n\n', 'event: e\ndata: [DONE]\n\n', 'data: ünï\n\n']
  fc.assert(fc.property(
    fc.array(fc.constantFrom(...events), { maxLength: 30 }),
    fc.array(fc.nat(), { maxLength: 20 }),
    (picked, cuts) => {
      const bytes = enc(picked.join(''))
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
      const counter = createEventEndCounter()
      let n = 0
      let from = 0
      for (const p of [...points, bytes.length]) {
        n += counter.push(bytes.subarray(from, p))
        from = p
      }
      assert.equal(n, picked.length)
    }
  ), { seed: 42, numRuns: 300 })
})

test('a "\\n" at the end of one piece and one at the start of the next make one event end', () => {
  const c = createEventEndCounter()
  assert.equal(c.push(enc('data: a\n')), 0)
  assert.equal(c.push(enc('\ndata: b\n')), 1)
  assert.equal(c.push(enc('\n')), 1)
  assert.equal(c.push(enc('\n')), 0, 'a lone third newline is not another event end')
})

test('the pre-built SSE response is valid chunked HTTP with role, content, usage and [DONE] events', () => {
  const r = buildSseResponse({ contentChunks: 10, writes: 3 })
  assert.equal(r.writes.length, 3)
  assert.equal(r.eventsPerResponse, 13)
  const text = Buffer.concat(r.writes).toString('utf8')
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/)
  assert.match(text, /transfer-encoding: chunked/)
  assert.ok(text.endsWith('\r\n0\r\n\r\n'))
  // De-chunk and check the events.
  let body = ''
  let rest = text.slice(text.indexOf('\r\n\r\n') + 4)
  for (;;) {
    const nl = rest.indexOf('\r\n')
    const size = parseInt(rest.slice(0, nl), 16)
    if (size === 0) break
    const data = Buffer.from(rest.slice(nl + 2), 'utf8').subarray(0, size).toString('utf8')
    body += data
    rest = rest.slice(nl + 2 + data.length + 2)
  }
  const events = body.split('\n\n').filter((e) => e !== '')
  assert.equal(events.length, 13)
  assert.equal(events[12], 'data: [DONE]')
  const usage = JSON.parse(events[11].slice('data: '.length)) as { usage: { completion_tokens: number } }
  assert.equal(usage.usage.completion_tokens, 10)
  const contents = events.slice(1, 11).map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ delta: { content: string } }> }).choices[0].delta.content)
  assert.ok(contents.every((c) => c.length > 0))
})

test('the raw reader reads whole responses from the fast server and counts every event', async () => {
  const server = await startFastServer({ contentChunks: 64, writes: 4 })
  const reader = await createRawSseReader({
    port: server.port,
    connections: 3,
    request: buildRawRequest(server.port, '/v1/chat/completions', '{"stream":true}'),
    eventsPerResponse: server.sse.eventsPerResponse
  })
  try {
    const r = await reader.run(10_000, 40)
    assert.equal(r.responses, 40)
    assert.equal(r.events, 40 * 67)
    assert.equal(server.responses, 40)
    // The sockets stay usable for a second run (the warm-up and the measurement share them).
    const again = await reader.run(10_000, 5)
    assert.equal(again.responses, 5)
    assert.equal(again.events, 5 * 67)
  } finally {
    reader.close()
    await server.close()
  }
})
