import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { killAll, startCli } from './helpers/processes.ts'

after(() => { killAll() })

type Json = Record<string, any>

const words = (vocab: string[], n: number): string => Array.from({ length: n }, (_, i) => vocab[i % vocab.length]).join(' ')

/** One streamed chat turn: the client-side TTFT (first content chunk), the answer and the usage. */
async function turn(url: string, messages: Array<{ role: string; content: string }>): Promise<{ ttftMs: number; text: string; usage: Json }> {
  const t0 = performance.now()
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages, max_tokens: 8, stream: true, stream_options: { include_usage: true } })
  })
  assert.equal(res.status, 200)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let buf = ''
  let ttftMs = Number.NaN
  let text = ''
  let usage: Json = {}
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    buf += decoder.decode(value, { stream: true })
    let i: number
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const data = buf.slice(6, i)
      buf = buf.slice(i + 2)
      if (data === '[DONE]') continue
      const j = JSON.parse(data) as Json
      if (j.usage) usage = j.usage
      const c = j.choices[0]?.delta?.content
      if (typeof c === 'string' && c !== '') {
        if (Number.isNaN(ttftMs)) ttftMs = performance.now() - t0
        text += c
      }
    }
  }
  return { ttftMs, text, usage }
}

test('simulate --prefix-caching: a conversation\'s second turn finds its first turn cached and starts sooner than a cold prompt as long', async () => {
  const sim = startCli(['simulate', '--port', '0', '--profile', 'h100-llama3.1-8b-fp8', '--prefix-caching', '--seed', '3'], 60_000)
  try {
    const m = await sim.waitFor(/listening on (http:\/\/\S+) \((.*); Ctrl-C/)
    const url = m[1]
    assert.equal(m[2], 'profile h100-llama3.1-8b-fp8, 1 replica, prefix cache')
    const q1 = { role: 'user', content: 'What did the cat do?' }
    await turn(url, [{ role: 'system', content: words(['warm', 'up'], 2000) }, q1]) // the server's code paths, compiled
    const system = { role: 'system', content: words(['the', 'cat', 'sat', 'on', 'a', 'mat'], 20_000) }
    const first = await turn(url, [system, q1])
    assert.equal(first.usage.prompt_tokens_details?.cached_tokens, 0)
    const followUp = [q1, { role: 'assistant', content: first.text }, { role: 'user', content: 'And then?' }]
    // A different conversation of the same length (before turn 2, so it is not the colder one): nothing to reuse.
    const cold = await turn(url, [{ role: 'system', content: words(['a', 'dog', 'ran', 'in', 'the', 'park'], 20_000) }, ...followUp])
    const second = await turn(url, [system, ...followUp])
    assert.equal(cold.usage.prompt_tokens, second.usage.prompt_tokens)
    assert.equal(cold.usage.prompt_tokens_details?.cached_tokens, 0)
    const cached = second.usage.prompt_tokens_details?.cached_tokens as number
    // Every full 16-token block of the first turn's prompt, give or take the last partial one.
    assert.ok(cached >= first.usage.prompt_tokens - 16 && cached < second.usage.prompt_tokens, `cached ${cached} of ${second.usage.prompt_tokens}`)
    // Prefill of ~20,000 tokens against a few dozen: ~440 ms against ~25 ms with this preset, far above this machine's noise.
    // (Both conversations fit the preset's KV cache, 52k tokens: a third would start evicting the first.)
    assert.ok(second.ttftMs < cold.ttftMs * 0.7, `turn 2 TTFT ${second.ttftMs.toFixed(1)} ms, cold ${cold.ttftMs.toFixed(1)} ms`)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const hits = Number(/^vllm:prefix_cache_hits_total\{[^}]*\} (\S+)$/m.exec(metrics)?.[1])
    assert.equal(hits, cached)
  } finally {
    sim.child.kill('SIGTERM')
    await sim.exited()
  }
})

test('simulate: --prefix-caching with the fixed engine is a usage error', async () => {
  const sim = startCli(['simulate', '--port', '0', '--prefix-caching'], 30_000)
  assert.equal(await sim.exited(), 2)
  assert.match(sim.stderr(), /--prefix-caching: the fixed engine/)
})
