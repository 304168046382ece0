// Schedule lag (sentAt - intendedAt) of the open loop on the real clock: Poisson arrivals at
// 1,000 req/s for 5 s, each request a streamed chat against a fast local server (child process).
//   cd /work/main && pnpm exec node packages/injector/bench/schedule-lag.ts [rate] [seconds] [spinMs]
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { systemClock } from '@loadmesh/clock'
import { createInjector, runOpenLoop } from '../src/index.ts'
import type { RequestResult } from '@loadmesh/metrics'

const rate = Number(process.argv[2] ?? 1000)
const seconds = Number(process.argv[3] ?? 5)
const child = fork(fileURLToPath(new URL('./fast-server.ts', import.meta.url)), { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: [] })
const [portLine] = await once(child.stdout!, 'data') as [Buffer]
const clock = systemClock()
const inj = createInjector({ baseUrl: `http://127.0.0.1:${portLine.toString().trim()}`, model: 'bench', timeoutMs: 10_000, connections: 64, clock })
const req = { endpoint: '/v1/chat/completions' as const, prompt: 'Say hello '.repeat(20), inputTokens: 60, maxTokens: 16, stream: true, includeUsage: true }

let seed = 12345
const rnd = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return (seed + 0.5) / 2147483648 }
const results: RequestResult[] = []
const eld = monitorEventLoopDelay({ resolution: 1 })
eld.enable()
// Warm-up (connection, undici's WASM parser, JIT) before the schedule starts, as an agent would
// during its ready barrier; pass "cold" as the 5th argument to skip it.
if (process.argv[5] !== 'cold') for (let i = 0; i < 200; i++) await inj.send(req, clock.now())
const startAt = clock.now() + 100
const loop = await runOpenLoop({
  clock, startAt, durationMs: seconds * 1000, maxInFlight: 1000, spinMs: Number(process.argv[4] ?? 2),
  nextGapMs: () => -Math.log(rnd()) * (1000 / rate),
  fire: async (t) => { results.push(await inj.send(req, t)) }
})
eld.disable()
await inj.close()
child.send('stop')

const lags = results.map((r) => r.sentAt - r.intendedAt).sort((a, b) => a - b)
const q = (p: number): string => (lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] * 1000).toFixed(0)
const ok = results.filter((r) => r.ok).length
process.stdout.write(`${loop.fired} fired (${(loop.fired / seconds).toFixed(0)}/s), ${loop.dropped} dropped, ${ok} ok\n`)
process.stdout.write(`schedule lag us: p50 ${q(0.5)}  p90 ${q(0.9)}  p99 ${q(0.99)}  p99.9 ${q(0.999)}  max ${q(1 - 1e-9)}\n`)
process.stdout.write(`event-loop delay ms: p50 ${(eld.percentile(50) / 1e6).toFixed(2)}  p99 ${(eld.percentile(99) / 1e6).toFixed(2)}  max ${(eld.max / 1e6).toFixed(2)}\n`)
const steady = results.filter((r) => r.intendedAt >= startAt + 1000).map((r) => r.sentAt - r.intendedAt).sort((a, b) => a - b)
const sq = (p: number): string => (steady[Math.min(steady.length - 1, Math.floor(p * steady.length))] * 1000).toFixed(0)
process.stdout.write(`after the first second: lag us p50 ${sq(0.5)}  p99 ${sq(0.99)}  p99.9 ${sq(0.999)}  max ${sq(1 - 1e-9)}\n`)
for (let s = 0; s < seconds; s++) {
  const l = results.filter((r) => r.intendedAt >= startAt + s * 1000 && r.intendedAt < startAt + (s + 1) * 1000).map((r) => r.sentAt - r.intendedAt).sort((a, b) => a - b)
  const pq = (p: number): string => (l[Math.min(l.length - 1, Math.floor(p * l.length))] * 1000).toFixed(0)
  process.stdout.write(`  second ${s}: n ${l.length} lag us p50 ${pq(0.5)} p99 ${pq(0.99)} max ${pq(1 - 1e-9)}\n`)
}
const cpu = process.cpuUsage()
process.stdout.write(`client CPU total ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s\n`)
