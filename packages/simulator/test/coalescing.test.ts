import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock } from '@loadmesh/clock'
import type { Clock, Timer } from '@loadmesh/clock'
import { createSimulator } from '../src/index.ts'
import type { EngineFactory, SimulatorOptions } from '../src/index.ts'
import { readSse } from './sse.ts'

type Json = Record<string, any>

/**
 * A simulator on a manual clock pumped by a real 1 ms interval, whose timers fire `lagMs` late: a
 * simulator process too busy to keep up, in slow motion and exactly reproducible.
 */
async function lagging(lagMs: number, opts: SimulatorOptions = {}): Promise<{ url: string; metrics(): string; close(): Promise<void> }> {
  const inner = createManualClock()
  const clock: Clock = { ...inner, setTimer: (fn, ms): Timer => inner.setTimer(fn, ms + lagMs) }
  const sim = createSimulator({ seed: 5, ...opts, clock })
  const { url } = await sim.start()
  const pump = setInterval(() => { inner.runAll() }, 1)
  return { url, metrics: () => sim.metricsText(), close: async () => { clearInterval(pump); await sim.stop() } }
}

interface Streamed {
  /** Content of each content-carrying chunk, in order. */
  contents: string[]
  usage: Json | undefined
  finish: string | undefined
}

async function stream(url: string, maxTokens: number): Promise<Streamed> {
  const res = await fetch(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Tell me.' }], max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } })
  })
  assert.equal(res.status, 200)
  const out: Streamed = { contents: [], usage: undefined, finish: undefined }
  for (const e of await readSse(res)) {
    if (e.data === '[DONE]') continue
    const j = JSON.parse(e.data) as Json
    if (j.usage) out.usage = j.usage
    const c = j.choices[0]
    if (c === undefined) continue
    if (c.finish_reason) out.finish = c.finish_reason
    if (typeof c.delta.content === 'string' && c.delta.content !== '' && c.delta.role === undefined) out.contents.push(c.delta.content)
  }
  return out
}

const words = (s: string): number => s.split(' ').filter((w) => w !== '').length
const counter = (text: string, name: string): number => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1])

test('light load: one token per frame, one frame per token, as before', async () => {
  const s = await lagging(0, { engine: { ttft: '50ms', itl: '10ms' } })
  try {
    const r = await stream(s.url, 30)
    assert.equal(r.contents.length, 30)
    assert.ok(r.contents.every((c) => words(c) === 1))
    assert.equal(r.usage?.completion_tokens, 30)
    const m = s.metrics()
    assert.equal(counter(m, 'loadmesh_sim_stream_frames_total'), 30)
    assert.equal(counter(m, 'vllm:generation_tokens_total'), 30)
  } finally { await s.close() }
})

test('a simulator that fell behind merges each stream\'s due tokens into one frame: same text, same usage, fewer writes', async () => {
  const onTime = await lagging(0, { engine: { ttft: '50ms', itl: '10ms' } })
  let reference: Streamed
  try {
    reference = await stream(onTime.url, 30)
  } finally { await onTime.close() }
  // Every timer 35 ms late against a 10 ms ITL: about four tokens are due each time one fires.
  const late = await lagging(35, { engine: { ttft: '50ms', itl: '10ms' } })
  try {
    const r = await stream(late.url, 30)
    assert.equal(r.contents.join(''), reference.contents.join(''), 'the same text, only chunked differently')
    assert.deepEqual(r.usage, reference.usage)
    assert.equal(r.finish, 'length')
    assert.ok(r.contents.length <= 10, `${r.contents.length} frames for 30 tokens`)
    assert.ok(r.contents.some((c) => words(c) >= 3), 'frames carry several tokens')
    const m = late.metrics()
    assert.equal(counter(m, 'loadmesh_sim_stream_frames_total'), r.contents.length)
    assert.equal(counter(m, 'vllm:generation_tokens_total'), 30)
  } finally { await late.close() }
})

test('tokens one engine tick hands out in several calls (a step engine catching up) leave as one frame', async () => {
  // An engine whose single tick runs three steps, each releasing one token for the request.
  const engine: EngineFactory = (ctx) => {
    let active = 0
    return {
      submit(_req, sink) {
        active++
        const tick = (left: number): void => {
          ctx.clock.setTimer(() => {
            for (let i = 0; i < 3; i++) sink.onTokens(1)
            if (left > 1) { tick(left - 1); return }
            active--
            sink.onDone('length')
          }, 10)
        }
        tick(4)
        return () => { active-- }
      },
      start() {},
      stop() {},
      active: () => active,
      stats: () => ({ running: active, waiting: 0, kvCacheUsage: 0, preemptions: 0, prefixCacheQueries: 0, prefixCacheHits: 0, promptTokens: 0, generationTokens: 0, replicas: [{ up: true, running: active, waiting: 0, kvCacheUsage: 0 }] }),
      inject() {},
      maxModelLen: () => 4096
    }
  }
  const s = await lagging(0, { engine })
  try {
    const r = await stream(s.url, 12)
    // The last tick's tokens go out with the finish: three frames of three, and the final three.
    assert.deepEqual(r.contents.map(words), [3, 3, 3, 3])
    assert.equal(r.usage?.completion_tokens, 12)
  } finally { await s.close() }
})
