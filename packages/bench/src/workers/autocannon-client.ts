// autocannon, driven through its programmatic API in its own pinned process: a warm-up run, then
// the measured run, with the same connections, headers and body as the loadmesh client.
import { createRequire } from 'node:module'
import { workerMain } from '../worker-protocol.ts'
import type { BaselineClientResult } from '../client-results.ts'

interface AutocannonResult {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  '2xx': number
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AutocannonResult) => void) => unknown

export interface AutocannonClientConfig {
  deadlineMs: number
  url: string
  connections: number
  warmupMs: number
  durationMs: number
  body: string
  headers: Record<string, string>
}

// autocannon is CommonJS without type declarations.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

function run(c: AutocannonClientConfig, durationMs: number): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    autocannon({
      url: c.url,
      connections: c.connections,
      pipelining: 1,
      duration: durationMs / 1000,
      method: 'POST',
      headers: c.headers,
      body: c.body,
      timeout: 10
    }, (err, result) => { if (err !== null) reject(err); else resolve(result) })
  })
}

workerMain<AutocannonClientConfig>(async (c, { measuring }) => {
  await run(c, c.warmupMs)
  measuring()
  const cpu0 = process.cpuUsage()
  const r = await run(c, c.durationMs)
  const cpu = process.cpuUsage(cpu0)
  const result: BaselineClientResult = {
    wallMs: r.duration * 1000,
    cpuMs: (cpu.user + cpu.system) / 1000,
    completed: r['2xx'],
    failed: r.errors + r.timeouts + r.non2xx
  }
  return result
})
