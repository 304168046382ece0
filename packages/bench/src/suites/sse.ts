import { loadavg } from 'node:os'
import { captureInjectorRequest } from '../capture-request.ts'
import type { BaselineClientResult, LoadmeshClientConfig, LoadmeshClientResult } from '../client-results.ts'
import { buildSseResponse, CHAT_PATH } from '../payloads.ts'
import type { ClientMeasurement, SseSuite } from '../results.ts'
import { startServerWorker, workerPath } from '../worker-protocol.ts'
import type { ServerWorker } from '../worker-protocol.ts'
import type { FastServerConfig } from '../workers/fast-server.ts'
import type { RawReaderClientConfig } from '../workers/raw-reader-client.ts'
import { CLIENT_CORE, errorText, measureClients, measured, probeBothCores, profileArgs, ratio, runMeasuredWorker, TARGET_CORE, workerTimeoutMs } from './context.ts'
import type { BenchContext } from './context.ts'

export const SSE_CONTENT_CHUNKS = 256
export const SSE_WRITES = 4
export const SSE_CONNECTIONS = 32
const TITLE = 'Streamed (SSE) content chunks per second, one client core'

/**
 * Suite 2: a pre-built SSE response (role chunk, 256 content chunks, usage chunk, [DONE], sent in
 * 4 writes) from a minimal server on core 1, read on core 0 by the loadmesh pipeline (SSE parse,
 * JSON per chunk, a timestamp and ITL per chunk, recorder) and by a raw reader that only counts
 * event ends. The ratio is what full measurement costs over reading the bytes.
 */
export async function runSseSuite(ctx: BenchContext): Promise<SseSuite> {
  const shape = buildSseResponse({ contentChunks: SSE_CONTENT_CHUNKS, writes: SSE_WRITES })
  const base = {
    id: 'sse' as const,
    title: TITLE,
    target: 'minimal Node HTTP/1.1 server (net, 1 process, core 1), pre-built chunked SSE response',
    connections: SSE_CONNECTIONS,
    warmup_s: ctx.warmupMs / 1000,
    duration_s: ctx.durationMs / 1000,
    rounds: Math.max(1, ctx.rounds),
    content_chunks_per_response: SSE_CONTENT_CHUNKS,
    events_per_response: shape.eventsPerResponse,
    writes_per_response: SSE_WRITES,
    bytes_per_response: shape.bytes,
    load_avg_start: loadavg()[0],
    cpu_probe: { core0: null, core1: null } as SseSuite['cpu_probe'],
    goals: []
  }
  ctx.log(`[sse] ${TITLE}`)
  base.cpu_probe = await probeBothCores(ctx)
  let server: ServerWorker
  try {
    const config: FastServerConfig = { deadlineMs: 30 * 60_000, contentChunks: SSE_CONTENT_CHUNKS, writes: SSE_WRITES }
    server = await startServerWorker(ctx.registry, workerPath('fast-server.ts'), config, { core: TARGET_CORE, timeoutMs: 10_000 })
  } catch (err) {
    ctx.log(`  SSE server failed to start: ${errorText(err)}`)
    return { ...base, status: 'failed', note: `SSE server failed to start: ${errorText(err)}`, clients: [], ratios: { loadmesh_over_raw: null, loadmesh_over_raw_per_cpu_s: null } }
  }
  try {
    const baseUrl = `http://127.0.0.1:${server.port}`
    const req = await captureInjectorRequest(ctx.seed, true)
    const clients = await measureClients(ctx, [
      {
        name: 'loadmesh',
        skip: null,
        run: async (durationMs, round) => {
          const config: LoadmeshClientConfig = {
            deadlineMs: workerTimeoutMs(ctx), baseUrl, stream: true, connections: SSE_CONNECTIONS,
            warmupMs: ctx.warmupMs, durationMs, seed: ctx.seed, mode: 'closed', concurrency: SSE_CONNECTIONS
          }
          const { result: r, usage } = await runMeasuredWorker<LoadmeshClientResult>(ctx, 'loadmesh-client.ts', config, {
            core: CLIENT_CORE, timeoutMs: workerTimeoutMs(ctx), execArgv: profileArgs(ctx, `sse-loadmesh-${round}`)
          }, server.pid)
          const expected = r.completed * SSE_CONTENT_CHUNKS
          const notes: string[] = []
          if (r.failed > 0) notes.push(`${r.failed} failed; first: ${r.firstError}`)
          if (r.contentChunks !== expected) notes.push(`counted ${r.contentChunks} content chunks, expected ${expected}`)
          return measured('loadmesh', {
            units: r.contentChunks, completed: r.completed, failed: r.failed, wallMs: r.wallMs, cpuMs: r.cpuMs, usage,
            note: notes.length === 0 ? null : notes.join('; ')
          })
        }
      },
      {
        name: 'raw reader',
        skip: null,
        run: async (durationMs, round) => {
          const config: RawReaderClientConfig = {
            deadlineMs: workerTimeoutMs(ctx), port: server.port, path: CHAT_PATH, body: req.body, connections: SSE_CONNECTIONS,
            eventsPerResponse: shape.eventsPerResponse, warmupMs: ctx.warmupMs, durationMs
          }
          const { result: r, usage } = await runMeasuredWorker<BaselineClientResult>(ctx, 'raw-reader-client.ts', config, {
            core: CLIENT_CORE, timeoutMs: workerTimeoutMs(ctx), execArgv: profileArgs(ctx, `sse-raw-reader-${round}`)
          }, server.pid)
          const events = r.events ?? 0
          return measured('raw reader', {
            units: r.completed * SSE_CONTENT_CHUNKS, completed: r.completed, failed: r.failed, wallMs: r.wallMs, cpuMs: r.cpuMs, usage,
            note: events !== r.completed * shape.eventsPerResponse ? `counted ${events} events, expected ${r.completed * shape.eventsPerResponse}` : null
          })
        }
      }
    ])

    const find = (name: string): ClientMeasurement | undefined => clients.find((c) => c.name === name && c.status === 'ok')
    const lm = find('loadmesh')
    const raw = find('raw reader')
    return {
      ...base,
      status: lm === undefined ? 'failed' : 'ok',
      note: null,
      clients,
      ratios: {
        loadmesh_over_raw: ratio(lm?.value, raw?.value),
        loadmesh_over_raw_per_cpu_s: ratio(lm?.per_cpu_s, raw?.per_cpu_s)
      }
    }
  } finally {
    await server.stop()
  }
}
