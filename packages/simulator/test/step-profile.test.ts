import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadProfile } from '@loadmesh/sim-engine'
import type { StepProfile } from '@loadmesh/sim-engine'
import { createSimulator } from '../src/index.ts'
import { readSse } from './sse.ts'

type Json = Record<string, any>

const post = (url: string, path: string, body: unknown): Promise<Response> =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

function prefixProfile(): StepProfile {
  const p = loadProfile('h100-llama3.1-8b-fp8')
  assert.equal(p.engine, 'step')
  return { ...p, scheduler: { ...p.scheduler, prefix_caching: true } }
}

test('a step profile serves streams; a conversation\'s second turn reports the prefix it found cached', async () => {
  const sim = createSimulator({ engine: { kind: 'profile', profile: prefixProfile(), replicas: 1 }, seed: 2 })
  const { url } = await sim.start()
  try {
    const history = Array.from({ length: 300 }, (_, i) => `word${i % 17}`).join(' ')
    const first = await (await post(url, '/v1/chat/completions', { messages: [{ role: 'user', content: history }], max_tokens: 8 })).json() as Json
    assert.equal(first.usage.completion_tokens, 8)
    assert.equal(first.usage.prompt_tokens_details.cached_tokens, 0)
    const second = await post(url, '/v1/chat/completions', {
      messages: [{ role: 'user', content: history }, { role: 'assistant', content: first.choices[0].message.content }, { role: 'user', content: 'and then?' }],
      max_tokens: 8, stream: true, stream_options: { include_usage: true }
    })
    const events = await readSse(second)
    const usage = JSON.parse(events[events.length - 2].data).usage
    assert.ok(usage.prompt_tokens_details.cached_tokens >= 256, `cached ${usage.prompt_tokens_details.cached_tokens} of ${usage.prompt_tokens}`)
    assert.equal(usage.prompt_tokens_details.cached_tokens % 16, 0, 'whole KV blocks')
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const hits = Number(/^vllm:prefix_cache_hits_total\{[^}]*\} (\S+)$/m.exec(metrics)?.[1])
    assert.ok(hits >= 256, `prefix cache hits ${hits}`)
  } finally { await sim.stop() }
})

test('a step profile\'s queue limit answers 503 with retry-after once the queue is full', async () => {
  const sim = createSimulator({ engine: { kind: 'profile', profile: loadProfile('h100-llama3.1-8b-fp8'), replicas: 2, maxWaiting: 1 } })
  const { url } = await sim.start()
  try {
    const res = await Promise.all(Array.from({ length: 400 }, () => post(url, '/v1/completions', { prompt: 'hello', max_tokens: 2 })))
    const refused = res.filter((r) => r.status === 503)
    assert.ok(refused.length > 0, 'some refused')
    assert.ok(res.some((r) => r.status === 200), 'some served')
    assert.equal(refused[0].headers.get('retry-after'), '1')
    await Promise.all(res.map(async (r) => await r.text()))
    const metrics = await (await fetch(`${url}/metrics`)).text()
    assert.match(metrics, /^loadmesh_sim_replica_up\{[^}]*replica="1"\} 1$/m)
  } finally { await sim.stop() }
})

test('a fixed profile object is refused: the fixed engine is given by its latencies', () => {
  assert.throws(() => createSimulator({ engine: { kind: 'profile', profile: loadProfile('fixed') } }), { code: 'ERR_BAD_SIM_CONFIG', message: /not a step profile/ })
})
