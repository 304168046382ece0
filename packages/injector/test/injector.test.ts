import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock, systemClock } from '@loadmesh/clock'
import { deriveMetrics } from '@loadmesh/metrics'
import type { Clock } from '@loadmesh/clock'
import { createInjector, InjectorConfigError } from '../src/index.ts'
import type { Injector, InjectorOptions, RequestSpec } from '../src/index.ts'
import { chatChunk, closedPort, sse, startServer, steppingClock, writePaced } from './helpers/test-server.ts'
import type { Handler, TestServer } from './helpers/test-server.ts'

const chat = (over: Partial<RequestSpec> = {}): RequestSpec => ({
  endpoint: '/v1/chat/completions', prompt: 'Say hello', inputTokens: 99, maxTokens: 16, stream: true, includeUsage: true, ...over
})

async function withServer(handler: Handler, clock: Clock, fn: (inj: Injector, srv: TestServer) => Promise<void>, opts: Partial<InjectorOptions> = {}): Promise<void> {
  const srv = await startServer(handler)
  const inj = createInjector({ baseUrl: srv.url, model: 'm-1', timeoutMs: 5000, connections: 4, clock, ...opts })
  try {
    await fn(inj, srv)
  } finally {
    await inj.close()
    await srv.close()
  }
}

test('streamed chat: role-only and usage-only chunks are not tokens; timestamps, itls, usage', async () => {
  const clock = steppingClock()
  await withServer(async (_req, res) => {
    await writePaced(res, clock, [
      sse(chatChunk({ role: 'assistant', content: '' })),
      sse(chatChunk({ content: 'Hel' })),
      sse(chatChunk({ content: 'lo' }, 'stop')),
      sse({ id: 'c1', choices: [], usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 } }),
      sse('[DONE]')
    ])
  }, clock, async (inj, srv) => {
    const r = await inj.send(chat(), 3)
    // Readings: send = 10, then one per piece (20..60), end of body = 70.
    assert.deepEqual(r, {
      intendedAt: 3, sentAt: 10, firstTokenAt: 30, firstContentAt: 30, lastTokenAt: 40, endAt: 70,
      itls: [10], contentChunks: 2, outputTokens: 2, outputTokensSource: 'usage', reasoningTokens: 0,
      inputTokens: 12, ok: true, endpoint: '/v1/chat/completions', streamed: true
    })
    const req = srv.requests[0]
    assert.equal(req.path, '/v1/chat/completions')
    assert.equal(req.method, 'POST')
    assert.equal(req.headers.authorization, 'Bearer sk-test')
    assert.equal(req.headers.accept, 'text/event-stream')
    assert.equal(req.headers['x-run'], 'r1')
    assert.deepEqual(JSON.parse(req.body), {
      model: 'm-1', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16, stream: true, stream_options: { include_usage: true }
    })
  }, { apiKey: 'sk-test', headers: { 'X-Run': 'r1' } })
})

test('events completed by one network read share its timestamp', async () => {
  const clock = steppingClock()
  await withServer(async (_req, res) => {
    await writePaced(res, clock, [
      sse(chatChunk({ content: 'a' })) + sse(chatChunk({ content: 'b' })) + sse(chatChunk({ content: 'c' })).slice(0, 10),
      sse(chatChunk({ content: 'c' })).slice(10) + sse(chatChunk({}, 'stop')) + sse('[DONE]')
    ])
  }, clock, async (inj) => {
    const r = await inj.send(chat({ includeUsage: false }), 0)
    assert.equal(r.ok, true)
    assert.deepEqual([r.firstTokenAt, r.lastTokenAt, r.itls, r.contentChunks], [20, 30, [0, 10], 3])
    assert.deepEqual([r.outputTokens, r.outputTokensSource, r.inputTokens], [3, 'counted', 99])
  })
})

test('reasoning chunks before content: first token precedes first content; tokens counted by the tokenizer', async () => {
  const clock = steppingClock()
  await withServer(async (_req, res) => {
    await writePaced(res, clock, [
      sse(chatChunk({ role: 'assistant', reasoning_content: 'think' })),
      sse(chatChunk({ reasoning: 'more' })),
      sse(chatChunk({ content: 'answer' }, 'stop')),
      sse('[DONE]')
    ])
  }, clock, async (inj) => {
    const r = await inj.send(chat({ includeUsage: false }), 0)
    assert.equal(r.ok, true)
    assert.deepEqual([r.firstTokenAt, r.firstContentAt, r.lastTokenAt, r.itls], [20, 40, 40, [10, 10]])
    // The test tokenizer counts characters: "thinkmoreanswer" and "thinkmore".
    assert.deepEqual([r.outputTokens, r.reasoningTokens, r.outputTokensSource], [15, 9, 'counted'])
  }, { countTokens: (t) => t.length })
})

test('usage reasoning_tokens is taken from completion_tokens_details', async () => {
  const clock = steppingClock()
  await withServer(async (_req, res) => {
    await writePaced(res, clock, [
      sse(chatChunk({ reasoning_content: 'hm' })),
      sse(chatChunk({ content: 'ok' }, 'length')),
      sse({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 9, completion_tokens_details: { reasoning_tokens: 6 } } }),
      sse('[DONE]')
    ])
  }, clock, async (inj) => {
    const r = await inj.send(chat(), 0)
    assert.deepEqual([r.outputTokens, r.reasoningTokens, r.inputTokens, r.outputTokensSource], [9, 6, 5, 'usage'])
  })
})

test('streamed completions read choices[].text and send the completions body', async () => {
  const clock = steppingClock()
  await withServer(async (_req, res) => {
    await writePaced(res, clock, [
      sse({ choices: [{ index: 0, text: 'foo', finish_reason: null }] }),
      sse({ choices: [{ index: 0, text: '', finish_reason: null }] }),
      sse({ choices: [{ index: 0, text: 'bar', finish_reason: 'length' }] }),
      sse('[DONE]')
    ])
  }, clock, async (inj, srv) => {
    const r = await inj.send({ endpoint: '/v1/completions', prompt: 'p', inputTokens: 1, maxTokens: 2, stream: true, includeUsage: false, extraBody: { ignore_eos: true, max_tokens: 3 } }, 0)
    assert.deepEqual([r.ok, r.firstTokenAt, r.lastTokenAt, r.itls, r.contentChunks, r.outputTokens], [true, 20, 40, [20], 2, 2])
    assert.equal(srv.requests[0].path, '/v1/completions')
    // extraBody is merged last and overrides.
    assert.deepEqual(JSON.parse(srv.requests[0].body), { model: 'm-1', prompt: 'p', max_tokens: 3, stream: true, ignore_eos: true })
  })
})

test('non-streamed chat: the JSON body is parsed once at the end', async () => {
  const clock = steppingClock()
  await withServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there', reasoning_content: 'x' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 7, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 2 } }
    }))
  }, clock, async (inj, srv) => {
    const r = await inj.send(chat({ stream: false }), 0)
    assert.equal(r.ok, true)
    assert.equal(r.streamed, false)
    assert.ok(Number.isNaN(r.lastTokenAt))
    assert.equal(r.firstTokenAt, r.endAt)
    assert.equal(r.firstContentAt, r.endAt)
    assert.ok(r.endAt > r.sentAt)
    assert.deepEqual([r.outputTokens, r.reasoningTokens, r.inputTokens, r.outputTokensSource, r.itls], [5, 2, 7, 'usage', []])
    assert.equal(srv.requests[0].headers.accept, 'application/json')
    assert.deepEqual(JSON.parse(srv.requests[0].body), { model: 'm-1', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16, stream: false })
  })
})

// ---- embeddings and moderations ----

test('embeddings: {model, input} to /v1/embeddings; prompt_tokens from usage; TTFT = E2E, no ITL/TPOT, 0 output tokens', async () => {
  const clock = steppingClock()
  await withServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, -0.2] }], model: 'm-1', usage: { prompt_tokens: 8, total_tokens: 8 } }))
  }, clock, async (inj, srv) => {
    const r = await inj.send({ endpoint: '/v1/embeddings', prompt: 'embed me', inputTokens: 99, maxTokens: 16, stream: false, includeUsage: true }, 0)
    assert.equal(r.ok, true, r.errorMessage)
    assert.equal(srv.requests[0].path, '/v1/embeddings')
    assert.equal(srv.requests[0].headers.accept, 'application/json')
    assert.deepEqual(JSON.parse(srv.requests[0].body), { model: 'm-1', input: 'embed me' })
    assert.deepEqual([r.inputTokens, r.outputTokens, r.outputTokensSource, r.reasoningTokens, r.contentChunks, r.itls], [8, 0, 'usage', 0, 0, []])
    assert.equal(r.firstTokenAt, r.endAt)
    const d = deriveMetrics(r)
    assert.equal(d.ttft, d.e2e)
    assert.equal(d.ttft_service, d.e2e_service)
    assert.ok(d.e2e !== null && d.e2e > 0)
    assert.deepEqual([d.tpot, d.itl, d.output_tokens], [null, [], 0])
  })
})

test('moderations: no usage, so the spec\'s input tokens count; the results array is required', async () => {
  let body = JSON.stringify({ id: 'modr-1', model: 'm-1', results: [{ flagged: false, categories: {}, category_scores: {} }] })
  await withServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(body)
  }, systemClock(), async (inj, srv) => {
    const req: RequestSpec = { endpoint: '/v1/moderations', prompt: 'is this ok', inputTokens: 4, maxTokens: 16, stream: false, includeUsage: true }
    const r = await inj.send(req, 0)
    assert.equal(r.ok, true, r.errorMessage)
    assert.equal(srv.requests[0].path, '/v1/moderations')
    assert.deepEqual(JSON.parse(srv.requests[0].body), { model: 'm-1', input: 'is this ok' })
    assert.deepEqual([r.inputTokens, r.outputTokens, r.outputTokensSource, r.firstTokenAt], [4, 0, 'counted', r.endAt])
    const d = deriveMetrics(r)
    assert.deepEqual([d.ttft, d.tpot, d.itl, d.output_tokens], [d.e2e, null, [], 0])
    // A generation-shaped answer is not a moderation.
    body = JSON.stringify({ choices: [{ message: { content: 'x' } }] })
    const bad = await inj.send(req, 0)
    assert.deepEqual([bad.ok, bad.errorClass], [false, 'bad_json'])
    assert.match(bad.errorMessage ?? '', /lacks results/)
  })
})

test('embeddings: a body without data is bad_json, with the server error message when present', async () => {
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"error":{"message":"input too long"}}')
  }, { endpoint: '/v1/embeddings', prompt: 'p', inputTokens: 1, maxTokens: 1, stream: false, includeUsage: false }, 'bad_json', /lacks data: error: input too long/)
})

test('stream on embeddings or moderations is a config error naming the endpoint, and nothing is sent', async () => {
  await withServer((_q, res) => { res.end('{}') }, systemClock(), async (inj, srv) => {
    for (const endpoint of ['/v1/embeddings', '/v1/moderations'] as const) {
      assert.throws(() => inj.send({ endpoint, prompt: 'p', inputTokens: 1, maxTokens: 1, stream: true, includeUsage: true }, 0),
        (e: unknown) => e instanceof InjectorConfigError && e.code === 'ERR_BAD_INJECTOR_CONFIG' && e.message.includes(endpoint))
    }
    assert.throws(() => inj.send({ endpoint: '/v1/images' as never, prompt: 'p', inputTokens: 1, maxTokens: 1, stream: false, includeUsage: false }, 0),
      (e: unknown) => e instanceof InjectorConfigError && /"\/v1\/images"/.test(e.message))
    assert.deepEqual([srv.requests.length, inj.stats().sent], [0, 0])
  })
})

// ---- error classes ----

async function expectError(handler: Handler, req: RequestSpec, errorClass: string, message?: RegExp, opts: Partial<InjectorOptions> = {}): Promise<void> {
  await withServer(handler, systemClock(), async (inj) => {
    const r = await inj.send(req, 0)
    assert.equal(r.ok, false)
    assert.equal(r.errorClass, errorClass, `errorMessage: ${r.errorMessage}`)
    if (message !== undefined) assert.match(r.errorMessage ?? '', message)
    assert.ok(Number.isFinite(r.endAt) && r.endAt >= r.sentAt)
    assert.deepEqual(inj.stats(), { inFlight: 0, sent: 1, completed: 1 })
  }, opts)
}

test('http_500 keeps the error body message', async () => {
  await expectError((_q, res) => {
    res.writeHead(500, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: 'engine crashed: ' + 'x'.repeat(500), type: 'server_error' } }))
  }, chat(), 'http_500', /^engine crashed: x+…$/)
})

test('http_429 reports retry-after', async () => {
  await expectError((_q, res) => {
    res.writeHead(429, { 'retry-after': '7' })
    res.end('slow down')
  }, chat(), 'http_429', /^slow down \(retry-after: 7\)$/)
})

test('connection refused is connect', async () => {
  const port = await closedPort()
  const inj = createInjector({ baseUrl: `http://127.0.0.1:${port}`, model: 'm', timeoutMs: 5000, connections: 1, clock: systemClock() })
  const r = await inj.send(chat(), 0)
  await inj.close()
  assert.equal(r.errorClass, 'connect')
  assert.match(r.errorMessage ?? '', /ECONNREFUSED/)
  assert.ok(Number.isNaN(r.firstTokenAt))
})

test('a server that hangs is a timeout, counted from the send, and the request is aborted', async () => {
  let closedByClient = false
  await withServer((_q, res) => { res.on('close', () => { closedByClient = true }) }, systemClock(), async (inj) => {
    const r = await inj.send(chat(), 0)
    assert.equal(r.errorClass, 'timeout')
    assert.ok(r.endAt - r.sentAt >= 145, `timed out after ${r.endAt - r.sentAt} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(closedByClient, true, 'the timed-out request is aborted')
  }, { timeoutMs: 150 })
})

test('a stream that stalls after headers is a timeout too', async () => {
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(sse(chatChunk({ content: 'a' })))
  }, chat(), 'timeout', undefined, { timeoutMs: 150 })
})

test('a request that times out while queued for a connection is never sent', async () => {
  // Every request has the same timeout and the queue is FIFO, so a queued request times out right
  // after the ones holding the connections: those are aborted, and it must not go out on the
  // connection that frees up.
  const clock = createManualClock(1000)
  await withServer(() => {}, clock, async (inj, srv) => {
    const first = inj.send(chat({ stream: false }), 0)
    while (srv.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const second = inj.send(chat({ stream: false }), 0)
    clock.advance(200)
    const [r1, r2] = await Promise.all([first, second])
    assert.equal(r1.errorClass, 'timeout')
    assert.equal(r2.errorClass, 'timeout')
    assert.equal(r2.endAt - r2.sentAt, 200)
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(srv.requests.length, 1)
    assert.equal(inj.stats().inFlight, 0)
  }, { connections: 1, timeoutMs: 200 })
})

test('a connection closed mid-stream is stream_aborted, keeping what arrived', async () => {
  const clock = steppingClock()
  await withServer(async (_q, res) => {
    await writePaced(res, clock, [sse(chatChunk({ content: 'partial' }))], { end: false })
    res.socket?.destroy()
  }, clock, async (inj) => {
    const r = await inj.send(chat(), 0)
    assert.equal(r.errorClass, 'stream_aborted')
    assert.equal(r.firstTokenAt, 20)
    assert.equal(r.contentChunks, 1)
  })
})

test('a connection lost right after [DONE] still counts as a complete answer', async () => {
  const clock = steppingClock()
  await withServer(async (_q, res) => {
    await writePaced(res, clock, [sse(chatChunk({ content: 'a' })), sse('[DONE]')], { end: false })
    res.socket?.destroy()
  }, clock, async (inj) => {
    const r = await inj.send(chat(), 0)
    assert.deepEqual([r.ok, r.contentChunks, r.firstTokenAt], [true, 1, 20])
  })
})

test('a stream that ends without [DONE] or finish_reason is stream_aborted; with finish_reason it is complete', async () => {
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(sse(chatChunk({ content: 'a' })))
  }, chat(), 'stream_aborted', /without \[DONE\]/)
  await withServer((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(sse(chatChunk({ content: 'a' }, 'stop')))
  }, systemClock(), async (inj) => {
    assert.equal((await inj.send(chat(), 0)).ok, true)
  })
})

test('bad_sse: unknown field, or wrong content type for a streamed request', async () => {
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end('data: {"choices":[]}\n\ncontent: hello\n\n')
  }, chat(), 'bad_sse', /unknown field "content"/)
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"choices":[]}')
  }, chat(), 'bad_sse', /application\/json/)
})

test('bad_json: a data payload that is not JSON or lacks choices; a non-JSON body', async () => {
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
    res.end(sse('{"choices": [') + sse('[DONE]'))
  }, chat(), 'bad_json', /not JSON/)
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(sse({ object: 'chat.completion.chunk' }) + sse('[DONE]'))
  }, chat(), 'bad_json', /lacks choices/)
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('<html>oops</html>')
  }, chat({ stream: false }), 'bad_json', /not JSON: <html>/)
})

test('sse_error: an error event, or an error object in a data payload after 200', async () => {
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(sse(chatChunk({ content: 'a' })) + 'event: error\ndata: {"error":{"message":"overloaded"}}\n\n')
  }, chat(), 'sse_error', /overloaded/)
  await expectError((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(sse({ error: { message: 'KV cache exhausted', code: 500 } }) + sse('[DONE]'))
  }, chat(), 'sse_error', /KV cache exhausted/)
})

test('keep-alive: sequential requests reuse one connection', async () => {
  await withServer((_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(sse(chatChunk({ content: 'a' }, 'stop')) + sse('[DONE]'))
  }, systemClock(), async (inj, srv) => {
    for (let i = 0; i < 20; i++) assert.equal((await inj.send(chat(), 0)).ok, true)
    assert.equal(srv.connections(), 1)
    assert.deepEqual(inj.stats(), { inFlight: 0, sent: 20, completed: 20 })
  })
})

test('concurrent requests use at most `connections` sockets', async () => {
  await withServer(async (_q, res) => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"choices":[{"message":{"content":"x"}}]}')
  }, systemClock(), async (inj, srv) => {
    const all = Array.from({ length: 12 }, () => inj.send(chat({ stream: false }), 0))
    assert.equal(inj.stats().inFlight, 12)
    const rs = await Promise.all(all)
    assert.ok(rs.every((r) => r.ok))
    assert.equal(srv.connections(), 3)
  }, { connections: 3 })
})

test('a base URL with a path prefix and the SDK-style /v1 suffix', async () => {
  await withServer((_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"choices":[{"message":{"content":"x"}}]}')
  }, systemClock(), async (_inj, srv) => {
    const inj = createInjector({ baseUrl: `${srv.url}/proxy/v1/`, model: 'm', timeoutMs: 1000, connections: 1, clock: systemClock() })
    assert.equal((await inj.send(chat({ stream: false }), 0)).ok, true)
    await inj.close()
    assert.equal(srv.requests[0].path, '/proxy/v1/chat/completions')
  })
})

test('send after close fails as connect instead of throwing; bad options throw InjectorConfigError', async () => {
  const inj = createInjector({ baseUrl: 'http://127.0.0.1:9', model: 'm', timeoutMs: 1000, connections: 1, clock: systemClock() })
  await inj.close()
  const r = await inj.send(chat(), 0)
  assert.deepEqual([r.ok, r.errorClass], [false, 'connect'])
  assert.throws(() => createInjector({ baseUrl: 'nope', model: 'm', timeoutMs: 1, connections: 1, clock: systemClock() }),
    (e: unknown) => e instanceof InjectorConfigError && e.code === 'ERR_BAD_INJECTOR_CONFIG' && /"nope"/.test(e.message))
  assert.throws(() => createInjector({ baseUrl: 'http://x', model: 'm', timeoutMs: 1, connections: 0, clock: systemClock() }), InjectorConfigError)
})

test('both HTTP clients (own pool and undici) give the same results: streamed, non-streamed and http_500', async () => {
  const results: Record<string, unknown[]> = {}
  for (const httpClient of ['auto', 'undici'] as const) {
    const clock = steppingClock()
    const out: unknown[] = []
    await withServer(async (req, res) => {
      if (req.path === '/v1/completions') {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end('{"error":{"message":"boom"}}')
        return
      }
      if (JSON.parse(req.body).stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ id: 'c2', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } }))
        return
      }
      await writePaced(res, clock, [sse(chatChunk({ content: 'a' })), sse(chatChunk({ content: 'b' }, 'stop')), sse('[DONE]')])
    }, clock, async (inj) => {
      out.push(await inj.send(chat({ includeUsage: false }), 0))
      out.push(await inj.send(chat({ stream: false }), 0))
      const failed = await inj.send({ endpoint: '/v1/completions', prompt: 'x', inputTokens: 1, maxTokens: 4, stream: false, includeUsage: false }, 0)
      assert.equal(failed.ok, false)
      out.push(failed.errorClass)
    }, { httpClient })
    results[httpClient] = out
  }
  const auto = results.auto as Array<{ ok?: boolean, outputTokens?: number }>
  assert.equal(auto[0].ok, true)
  assert.equal(auto[1].outputTokens, 2)
  assert.equal(auto[2], 'http_500')
  // Timestamps come from the stepping clock, so equal readings mean the same sequence of events.
  assert.deepEqual(results.undici, results.auto)
})

test('prepare: a prepared request gives the result an ordinary send gives, on either client; it is sent once; prepared after close it fails as connect', async () => {
  const results: Record<string, unknown[]> = {}
  for (const httpClient of ['auto', 'undici'] as const) {
    const clock = steppingClock()
    const out: unknown[] = []
    await withServer(async (req, res) => {
      if (req.method === 'GET') { res.end('{"data":[]}'); return } // the warm-up
      out.push(req.body)
      await writePaced(res, clock, [sse(chatChunk({ content: 'a' })), sse(chatChunk({ content: 'b' }, 'stop')), sse('[DONE]')])
    }, clock, async (inj, srv) => {
      await inj.warmup(1)
      const warm = srv.connections()
      assert.equal(warm, 1, `${httpClient}: the warm-up opened the connection`)
      const ready = inj.prepare(chat({ prompt: 'ready "quoted" é' }))
      out.push(await ready.send(7))
      assert.throws(() => ready.send(8), InjectorConfigError)
      ready.discard() // after its send: nothing to give back, and no error
      out.push(await inj.send(chat({ prompt: 'ready "quoted" é' }), 7))
      assert.equal(srv.connections(), warm, `${httpClient}: the warm connection carried both`)
      assert.deepEqual(inj.stats(), { inFlight: 0, sent: 2, completed: 2 })
    }, { httpClient, connections: 1 })
    results[httpClient] = out
  }
  const auto = results.auto as [string, { ok: boolean, intendedAt: number }, string, unknown]
  assert.equal(auto[0], auto[2], 'the same body bytes')
  assert.equal(auto[1].ok, true)
  assert.equal(auto[1].intendedAt, 7)
  // Readings from a stepping clock, counted from the send: the same events either way, on both clients.
  const rel = (r: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(r).map(([k, v]) =>
    [k, k.endsWith('At') && k !== 'intendedAt' && typeof v === 'number' ? v - (r.sentAt as number) : v]))
  assert.deepEqual(rel(auto[1] as unknown as Record<string, unknown>), rel(auto[3] as Record<string, unknown>))
  assert.deepEqual(results.undici, results.auto)
  const closed = createInjector({ baseUrl: 'http://127.0.0.1:9', model: 'm', timeoutMs: 1000, connections: 1, clock: systemClock() })
  const early = closed.prepare(chat())
  await closed.close()
  const r = await early.send(0)
  assert.deepEqual([r.ok, r.errorClass], [false, 'connect'])
})
