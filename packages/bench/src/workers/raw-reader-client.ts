// The minimal SSE reader as a pinned process: warm-up, then the measured run on the same sockets.
import { buildRawRequest, createRawSseReader } from '../raw-sse-reader.ts'
import { workerMain } from '../worker-protocol.ts'
import type { BaselineClientResult } from '../client-results.ts'

export interface RawReaderClientConfig {
  deadlineMs: number
  port: number
  path: string
  body: string
  connections: number
  eventsPerResponse: number
  warmupMs: number
  durationMs: number
}

workerMain<RawReaderClientConfig>(async (c, { measuring }) => {
  const reader = await createRawSseReader({
    port: c.port,
    connections: c.connections,
    request: buildRawRequest(c.port, c.path, c.body),
    eventsPerResponse: c.eventsPerResponse
  })
  try {
    await reader.run(c.warmupMs)
    measuring()
    const cpu0 = process.cpuUsage()
    const r = await reader.run(c.durationMs)
    const cpu = process.cpuUsage(cpu0)
    const result: BaselineClientResult = {
      wallMs: r.wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      completed: r.responses,
      failed: 0,
      events: r.events
    }
    return result
  } finally {
    reader.close()
  }
})
