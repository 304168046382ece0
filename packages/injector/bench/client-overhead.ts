// Client CPU cost per request against a fast local server (in a child process), compared with
// bare undici (pool.request + reading the body as text, no SSE parsing or timestamps).
//   cd /work/main && pnpm exec node packages/injector/bench/client-overhead.ts
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { systemClock } from '@loadmesh/clock'
import { createInjector, runClosedLoop } from '../src/index.ts'
import type { RequestSpec } from '../src/index.ts'

const child = fork(fileURLToPath(new URL('./fast-server.ts', import.meta.url)), { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: [] })
const [portLine] = await once(child.stdout!, 'data') as [Buffer]
const base = `http://127.0.0.1:${portLine.toString().trim()}`
const N = 20_000
const C = 16
const clock = systemClock()
let lastConns = 0

async function measure(name: string, fire: () => Promise<unknown>): Promise<void> {
  await runClosedLoop({ clock, startAt: clock.now(), durationMs: 60_000, concurrency: C, maxRequests: 2000, fire })
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await runClosedLoop({ clock, startAt: clock.now(), durationMs: 60_000, concurrency: C, maxRequests: N, fire })
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const us = (cpu.user + cpu.system) / N
  child.send('conns')
  const [conns] = await once(child, 'message') as [number]
  const newConns = conns - lastConns
  lastConns = conns
  process.stdout.write(`${name.padEnd(34)} ${(N / (wall / 1000)).toFixed(0).padStart(6)} req/s  client CPU ${us.toFixed(1)} us/request  (${newConns} new connections)\n`)
}

for (const stream of [true, false]) {
  const req: RequestSpec = { endpoint: '/v1/chat/completions', prompt: 'Say hello '.repeat(20), inputTokens: 60, maxTokens: 16, stream, includeUsage: true }
  const inj = createInjector({ baseUrl: base, model: 'bench', timeoutMs: 10_000, connections: C, clock })
  await measure(`injector ${stream ? 'streamed (16 chunks)' : 'non-streamed'}`, () => inj.send(req, clock.now()))
  await inj.close()
  const pool = new Pool(base, { connections: C, pipelining: 1 })
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: req.prompt }], max_tokens: 16, stream })
  await measure(`bare undici ${stream ? 'streamed' : 'non-streamed'}`, async () => {
    const r = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body })
    await r.body.text()
  })
  await pool.close()
}
child.send('stop')
