import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createManualClock } from '@loadmesh/clock'
import { countTokens } from '@loadmesh/workload'
import { createSimulator, parseFaultConfig, parseFaultHeader } from '../src/index.ts'
import type { SimulatorOptions } from '../src/index.ts'
import { readSse } from './sse.ts'

type Json = Record<string, any>

const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })

const chat = (max: number, stream = false): Json => ({ model: 'm', messages: [{ role: 'user', content: 'hello there' }], max_tokens: max, stream })

async function manual(opts: SimulatorOptions = {}) {
  const clock = createManualClock()
  const sim = createSimulator({ engine: { ttft: '100ms', itl: '10ms' }, seed: 5, ...opts, clock })
  const { url } = await sim.start()
  const pump = setInterval(() => { clock.runAll() }, 1)
  return { sim, url, clock, close: async () => { clearInterval(pump); await sim.stop() } }
}

test('fault files: every field is checked and errors name the fault and the field', () => {
  const ok = parseFaultConfig({
    faults: [
      { kind: 'http_429', rate: 0.05, retry_after: '2s' },
      { kind: 'disconnect', rate: 0.01, after_tokens: 7 },
      { kind: 'hang_before_headers', rate: 0.001, duration: '30s' },
      { kind: 'brownout', start: '10s', duration: '20s', factor: 3 },
      { kind: 'stall', at: 5000, duration: '1s', replica: 0 },
      { kind: 'crash', at: '1m', replica: 0, restart: '10s' }
    ]
  }, 'faults.yaml')
  assert.deepEqual(ok, [
    { kind: 'http_429', rate: 0.05, retryAfterS: 2 },
    { kind: 'disconnect', rate: 0.01, afterTokens: 7 },
    { kind: 'hang_before_headers', rate: 0.001, durationMs: 30_000 },
    { kind: 'brownout', startMs: 10_000, endMs: 30_000, factor: 3 },
    { kind: 'stall', atMs: 5000, durationMs: 1000, replica: 0 },
    { kind: 'crash', atMs: 60_000, replica: 0, restartMs: 10_000 }
  ])
  assert.deepEqual(parseFaultConfig([{ kind: 'http_500', rate: 0.5 }], 'x'), [{ kind: 'http_500', rate: 0.5 }])
  const bad = (raw: unknown, re: RegExp): void => { assert.throws(() => parseFaultConfig(raw, 'faults.yaml'), { name: 'FaultConfigError', code: 'ERR_BAD_FAULT_CONFIG', message: re }) }
  bad([{ kind: 'http_429', rate: 5 }], /faults\.yaml: faults\[0\]\.rate: must be a fraction/)
  bad([{ kind: 'http_429', rate: 0.1, after_tokens: 3 }], /faults\[0\] \(http_429\): unknown field "after_tokens"/)
  bad([{ kind: 'http_4299', rate: 0.1 }], /faults\[0\]: unknown kind "http_4299"/)
  bad([{ kind: 'http_429', rate: 0.6 }, { kind: 'http_500', rate: 0.6 }], /add up to 1\.2/)
  bad([{ kind: 'http_429', rate: 0.1 }, { kind: 'http_429', rate: 0.2 }], /http_429 is given twice/)
  bad([{ kind: 'brownout', start: '10s', end: '5s', factor: 2 }], /end \(5000 ms\) must come after start/)
  bad([{ kind: 'brownout', factor: -1 }], /faults\[0\]\.factor/)
  bad([{ kind: 'stall', duration: 'soon' }], /"soon" is not a duration/)
  bad({ fault: [] }, /unknown field "fault"/)
})

test('the fault header: kinds, aliases and parameters; bad values are refused with the header named', () => {
  assert.deepEqual(parseFaultHeader('disconnect;k=5'), { kind: 'disconnect', rate: 1, afterTokens: 5 })
  assert.deepEqual(parseFaultHeader('429; retry_after=3'), { kind: 'http_429', rate: 1, retryAfterS: 3 })
  assert.deepEqual(parseFaultHeader('context_length_exceeded'), { kind: 'http_400' })
  assert.deepEqual(parseFaultHeader('hang_before_headers;ms=250'), { kind: 'hang_before_headers', rate: 1, durationMs: 250 })
  assert.deepEqual(parseFaultHeader('none'), { kind: 'none' })
  assert.throws(() => parseFaultHeader('explode'), { code: 'ERR_BAD_FAULT_CONFIG', message: /x-loadmesh-fault "explode": unknown kind/ })
  assert.throws(() => parseFaultHeader('http_500;k=2'), { message: /http_500 takes no parameter "k"/ })
  assert.throws(() => parseFaultHeader('disconnect;k=1.5'), { message: /k/ })
})

test('a bad fault header is a 400 naming it; the request is not served', async () => {
  const s = await manual()
  try {
    const res = await post(s.url, '/v1/chat/completions', chat(3), { 'x-loadmesh-fault': 'bogus' })
    assert.equal(res.status, 400)
    const body = await res.json() as Json
    assert.equal(body.error.code, 'invalid_fault_header')
    assert.match(body.error.message, /x-loadmesh-fault "bogus"/)
    assert.equal(s.sim.stats().requests, 0)
  } finally { await s.close() }
})

test('prompt + max_tokens over the model length is 400 context_length_exceeded, always', async () => {
  const s = await manual({ engine: { ttft: '1ms', itl: '1ms', maxModelLen: 50 } })
  try {
    const prompt = countTokens('hello there')
    const res = await post(s.url, '/v1/chat/completions', chat(51 - prompt))
    assert.equal(res.status, 400)
    const body = await res.json() as Json
    assert.deepEqual([body.error.code, body.error.param, body.error.type], ['context_length_exceeded', 'messages', 'invalid_request_error'])
    assert.match(body.error.message, /maximum context length is 50 tokens\. However, you requested 51 tokens/)
    assert.equal((await post(s.url, '/v1/chat/completions', chat(50 - prompt))).status, 200)
    // Without max_tokens the answer fills what is left, with finish_reason length.
    const free = await (await post(s.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hello there' }] })).json() as Json
    assert.equal(free.usage.completion_tokens, 50 - prompt)
    assert.equal(free.choices[0].finish_reason, 'length')
    const emb = await post(s.url, '/v1/embeddings', { input: 'word '.repeat(60) })
    assert.equal(emb.status, 400)
    assert.equal((await emb.json() as Json).error.param, 'input')
  } finally { await s.close() }
})

test('the same seed draws the same faults for the same request order', async () => {
  const outcomes = async (seed: number): Promise<number[]> => {
    const sim = createSimulator({ engine: { ttft: '0ms', itl: '0ms' }, seed, faults: [{ kind: 'http_429', rate: 0.3 }, { kind: 'http_500', rate: 0.2 }] })
    const { url } = await sim.start()
    try {
      const out: number[] = []
      for (let i = 0; i < 40; i++) out.push((await post(url, '/v1/completions', { prompt: 'x', max_tokens: 1 })).status)
      return out
    } finally { await sim.stop() }
  }
  const a = await outcomes(11)
  assert.deepEqual(await outcomes(11), a)
  assert.notDeepEqual(await outcomes(12), a)
  assert.ok(a.includes(429) && a.includes(500) && a.includes(200))
})

test('admin API: GET shows, POST adds (rate per kind replaced), DELETE clears; bad bodies are 400s', async () => {
  const s = await manual()
  try {
    const get = async (): Promise<Json> => await (await fetch(`${s.url}/admin/faults`)).json() as Json
    assert.deepEqual(await get(), { rates: [], upcoming: [], brownout: null, injected: {} })
    let res = await post(s.url, '/admin/faults', { faults: [{ kind: 'http_503', rate: 1, retry_after: 4 }] })
    assert.equal(res.status, 200)
    assert.deepEqual((await res.json() as Json).rates, [{ kind: 'http_503', rate: 1, retry_after: 4 }])
    const refused = await post(s.url, '/v1/chat/completions', chat(2))
    assert.equal(refused.status, 503)
    assert.equal(refused.headers.get('retry-after'), '4')
    assert.deepEqual((await get()).injected, { http_503: 1 })
    res = await post(s.url, '/admin/faults', [{ kind: 'http_503', rate: 0 }, { kind: 'brownout', start: '1h', factor: 2 }])
    const state = await res.json() as Json
    assert.deepEqual(state.rates, [])
    assert.deepEqual(state.upcoming, [{ kind: 'brownout', start: '3600000ms', factor: 2, in_ms: 3_600_000 }])
    assert.equal((await post(s.url, '/v1/chat/completions', chat(2))).status, 200)
    res = await post(s.url, '/admin/faults', [{ kind: 'http_429', rate: 2 }])
    assert.equal(res.status, 400)
    assert.match((await res.json() as Json).error.message, /POST \/admin\/faults: faults\[0\]\.rate/)
    res = await post(s.url, '/admin/faults', '{not json')
    assert.equal(res.status, 400)
    res = await fetch(`${s.url}/admin/faults?kind=brownout`, { method: 'DELETE' })
    assert.deepEqual((await res.json() as Json).upcoming, [])
    res = await fetch(`${s.url}/admin/faults?kind=nope`, { method: 'DELETE' })
    assert.equal(res.status, 400)
    assert.equal((await fetch(`${s.url}/admin/faults`, { method: 'PUT' })).status, 405)
  } finally { await s.close() }
})

test('the admin API can be switched off', async () => {
  const s = await manual({ adminApi: false })
  try {
    assert.equal((await fetch(`${s.url}/admin/faults`)).status, 404)
  } finally { await s.close() }
})

test('a brownout window from the config multiplies latencies while it lasts', async () => {
  // The window starts with the simulator; its end is a deadline the engine checks, not a timer, so
  // the pump (which runs every timer at once, jumping the clock to each deadline) leaves it alone.
  const s = await manual({ engine: { ttft: '100ms', itl: '10ms' }, faults: [{ kind: 'brownout', start: 0, end: '1s', factor: 4 }] })
  try {
    const ttft = async (): Promise<number> => {
      const t0 = s.clock.now()
      await readSse(await post(s.url, '/v1/chat/completions', chat(1, true)))
      return s.clock.now() - t0
    }
    assert.equal(await ttft(), 400)
    s.clock.advanceTo(1500)
    assert.equal(await ttft(), 100)
    assert.deepEqual(s.sim.faultStatus().injected, { brownout: 1 })
  } finally { await s.close() }
})

/** Advances a manual clock in small steps until `p` settles. */
async function drive<T>(clock: ReturnType<typeof createManualClock>, p: Promise<T>, stepMs = 5): Promise<T> {
  let done = false
  const out = p.finally(() => { done = true })
  while (!done) {
    clock.advance(stepMs)
    await sleep(1)
  }
  return await out
}

test('a crash fails streams in flight with an SSE error, refuses with 503 + retry-after, /health is 503 until the restart', async () => {
  const clock = createManualClock()
  const sim = createSimulator({ engine: { ttft: '10ms', itl: '10ms' }, clock })
  const { url } = await sim.start()
  try {
    const res = await post(url, '/v1/chat/completions', chat(1000, true))
    const events = readSse(res)
    clock.advance(35) // 3 tokens
    await sleep(10)
    sim.addFaults([{ kind: 'crash', replica: 0, restart: '5s' }])
    const got = await events
    assert.equal(got.length, 1 + 3 + 2, 'role chunk, 3 tokens, the error, [DONE]')
    const err = JSON.parse(got[got.length - 2].data) as Json
    assert.equal(err.error.type, 'service_unavailable')
    assert.match(err.error.message, /crashed/)
    assert.equal(got[got.length - 1].data, '[DONE]')
    const refused = await post(url, '/v1/chat/completions', chat(2))
    assert.equal(refused.status, 503)
    assert.equal(refused.headers.get('retry-after'), '5')
    assert.equal((await fetch(`${url}/health`)).status, 503)
    clock.advance(5000)
    assert.equal((await fetch(`${url}/health`)).status, 200)
    assert.equal((await drive(clock, post(url, '/v1/chat/completions', chat(2)))).status, 200)
  } finally { await sim.stop() }
})

test('hang before headers lasts its duration, then the request is served normally', async () => {
  const s = await manual({ engine: { ttft: '10ms', itl: '1ms' } })
  try {
    const t0 = s.clock.now()
    const res = await post(s.url, '/v1/chat/completions', chat(3), { 'x-loadmesh-fault': 'hang_before_headers;ms=3000' })
    assert.equal(res.status, 200)
    // The engine sees the request when the hang ends: 3000 ms, then the 10 ms TTFT and 2 ITLs.
    assert.equal(s.clock.now() - t0, 3012)
    assert.equal((await res.json() as Json).usage.completion_tokens, 3)
  } finally { await s.close() }
})

test('sse_error and disconnect after k tokens, streamed and not', async () => {
  const s = await manual({ engine: { ttft: '10ms', itl: '1ms' }, tokensPerChunk: 3 })
  try {
    // k need not fall on a chunk boundary: exactly k tokens go out.
    let res = await post(s.url, '/v1/chat/completions', chat(50, true), { 'x-loadmesh-fault': 'sse_error;k=4' })
    let events = await readSse(res)
    const content = events.map((e) => (e.data.startsWith('{') ? JSON.parse(e.data) as Json : null)).filter((j) => j?.choices?.[0]?.delta?.content)
    assert.equal(countTokens(content.map((j) => j?.choices[0].delta.content).join('')), 4)
    assert.equal((JSON.parse(events[events.length - 2].data) as Json).error.type, 'server_error')
    assert.equal(events[events.length - 1].data, '[DONE]')

    res = await post(s.url, '/v1/chat/completions', chat(50, true), { 'x-loadmesh-fault': 'disconnect;k=2' })
    await assert.rejects(readSse(res), /terminated|other side closed|socket/i)

    res = await post(s.url, '/v1/chat/completions', chat(50), { 'x-loadmesh-fault': 'sse_error;k=4' })
    assert.equal(res.status, 500)
    res = await post(s.url, '/v1/chat/completions', chat(50), { 'x-loadmesh-fault': 'disconnect;k=4' })
    assert.equal(res.status, 200)
    await assert.rejects(res.text())
    // A fault after more tokens than the answer has hits at its end.
    res = await post(s.url, '/v1/chat/completions', chat(2, true), { 'x-loadmesh-fault': 'sse_error;k=10' })
    events = await readSse(res)
    assert.ok(events.some((e) => e.data.includes('"error"')))
    const stats = s.sim.stats()
    assert.equal(stats.faults, 5)
    assert.equal(stats.active, 0)
  } finally { await s.close() }
})

test('/metrics: vLLM names and labels, histograms fed by requests, engine gauges, faults and event-loop lag', async () => {
  const s = await manual({ models: ['my-model'] })
  try {
    await (await post(s.url, '/v1/chat/completions', chat(5, true))).text()
    await (await post(s.url, '/v1/chat/completions', chat(3))).text()
    await (await post(s.url, '/v1/embeddings', { input: ['a', 'b'] })).text()
    await (await post(s.url, '/v1/completions', { prompt: 'x', max_tokens: 2 }, { 'x-loadmesh-fault': '500' })).text()
    const res = await fetch(`${s.url}/metrics`)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    const L = 'model_name="my-model",engine="0"'
    const value = (line: string): number => {
      const m = new RegExp(`^${line.replace(/[{}()[\]".+*?^$|\\]/g, '\\$&')} (\\S+)$`, 'm').exec(text)
      assert.ok(m, `no sample ${line}`)
      return Number(m[1])
    }
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc',
      'vllm:num_preemptions_total', 'vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'))
      value(`${name}{${L}}`)
    }
    assert.equal(value(`vllm:generation_tokens_total{${L}}`), 8)
    assert.equal(value(`vllm:request_success_total{${L},finished_reason="length"}`), 2)
    assert.equal(value(`vllm:request_success_total{${L},finished_reason="stop"}`), 1, 'the embeddings request')
    assert.equal(value(`vllm:time_to_first_token_seconds_count{${L}}`), 2)
    assert.equal(value(`vllm:time_to_first_token_seconds_bucket{${L},le="0.1"}`), 2, 'TTFT is exactly 100 ms on the manual clock')
    assert.equal(value(`vllm:time_to_first_token_seconds_bucket{${L},le="0.08"}`), 0)
    assert.equal(value(`vllm:inter_token_latency_seconds_count{${L}}`), 6, '4 + 2 gaps')
    assert.equal(value(`vllm:inter_token_latency_seconds_bucket{${L},le="0.01"}`), 6)
    assert.equal(value(`vllm:inter_token_latency_seconds_bucket{${L},le="+Inf"}`), 6)
    assert.equal(value(`vllm:request_time_per_output_token_seconds_count{${L}}`), 2)
    assert.equal(value(`vllm:e2e_request_latency_seconds_count{${L}}`), 3)
    assert.equal(value(`vllm:request_prefill_time_seconds_count{${L}}`), 4, 'two chats and two embedding inputs')
    assert.equal(value(`vllm:request_queue_time_seconds_count{${L}}`), 4)
    assert.equal(value(`vllm:request_decode_time_seconds_count{${L}}`), 4)
    assert.equal(value(`vllm:request_generation_tokens_sum{${L}}`), 8)
    assert.equal(value(`vllm:request_prompt_tokens_count{${L}}`), 3)
    assert.equal(value(`loadmesh_sim_faults_injected_total{${L},kind="http_500"}`), 1)
    assert.equal(value(`loadmesh_sim_replica_up{${L},replica="0"}`), 1)
    assert.ok(value(`loadmesh_sim_event_loop_lag_seconds{${L},quantile="0.99"}`) >= 0)
    assert.ok(value('process_resident_memory_bytes') > 0)
  } finally { await s.close() }
})

test('a client that stops reading: tokens are counted, not buffered, and arrive merged when it reads again', async () => {
  // A 1 ms ITL: one frame per timer tick (a faster ITL would only merge more tokens per frame).
  const sim = createSimulator({ engine: { ttft: '1ms', itl: '1ms' }, seed: 1 })
  const { port } = await sim.start()
  const sock = connect({ host: '127.0.0.1', port })
  try {
    // An 8 KiB model name (echoed in every chunk) fills the socket buffers within a second or so.
    const model = 'm'.repeat(8192)
    const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'go' }], max_tokens: 4000, stream: true })
    await new Promise<void>((resolve) => { sock.once('connect', resolve) })
    sock.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
    sock.pause()
    const metric = async (): Promise<number> => {
      const m = /^loadmesh_sim_backpressure_total\{[^}]*\} (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
      return Number(m?.[1])
    }
    const end = performance.now() + 10_000
    while (await metric() === 0 && performance.now() < end) await sleep(20)
    assert.ok(await metric() >= 1, 'the server saw the socket refuse more')
    await sleep(300) // tokens keep coming out meanwhile; they are only counted
    const pieces: string[] = []
    let tail = ''
    sock.setEncoding('utf8')
    const done = new Promise<void>((resolve, reject) => {
      sock.on('data', (d: string) => {
        pieces.push(d)
        // Only the tail: the whole text is megabytes, and searching it on every read would be quadratic.
        tail = (tail + d.slice(-64)).slice(-64)
        if (tail.includes('data: [DONE]')) resolve()
      })
      sock.on('error', reject)
      setTimeout(() => { reject(new Error(`stream did not finish; it ends ${JSON.stringify(tail)}`)) }, 15_000)
    })
    sock.resume()
    await done
    const text = pieces.join('')
    const chunks = [...text.matchAll(/"delta":\{"content":"([^"]*)"\}/g)].map((m) => m[1])
    const tokens = chunks.reduce((n, c) => n + countTokens(c), 0)
    assert.equal(tokens, 4000, 'every token arrives')
    assert.ok(chunks.length < 4000, `${chunks.length} chunks: the tokens that waited came merged`)
  } finally {
    sock.destroy()
    await sim.stop()
  }
})
