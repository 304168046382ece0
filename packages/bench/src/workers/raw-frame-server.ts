// The floor under the simulator-scale suite: a bare `net` server that answers every request with
// SSE headers and then writes one pre-built ~190-byte chunk frame per `itlMs` to each open stream,
// on a 1 ms timing wheel. No HTTP parser, no JSON, no engine: what one write per token costs in
// this kernel. It answers GET /metrics with the few samples the streams client reads.
import { createServer } from 'node:net'
import type { Socket } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { workerMain } from '../worker-protocol.ts'

export interface RawFrameServerConfig {
  deadlineMs: number
  /** A stream's first frame comes this long after its request, as the simulator's TTFT. */
  ttftMs: number
  itlMs: number
  /** A POST whose body contains this runs a full GC first (the process runs with --expose-gc). */
  gcPrompt: string
}

const FRAME = 'data: {"id":"chatcmpl-0000000000","object":"chat.completion.chunk","created":1700000000,"model":"loadmesh-sim",' +
  '"choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}\n\n'
const CHUNK = Buffer.from(`${FRAME.length.toString(16)}\r\n${FRAME}\r\n`, 'latin1')
const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n'

workerMain<RawFrameServerConfig>(async (c, { ready }) => {
  const gc = (globalThis as { gc?: () => void }).gc
  const slots = Math.max(1, Math.round(c.itlMs))
  const wheel: Array<Set<Socket>> = Array.from({ length: slots }, () => new Set())
  let next = 0
  let frames = 0
  let open = 0
  let backpressure = 0
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const metrics = (): string => {
    const cpu = process.cpuUsage()
    const mem = process.memoryUsage()
    const q = (v: number): number => Math.max(0, v / 1e9 - 0.01)
    const s = `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}\nprocess_resident_memory_bytes ${mem.rss}\n` +
      `nodejs_heap_size_used_bytes ${mem.heapUsed}\nnodejs_external_memory_bytes ${mem.external}\n` +
      `vllm:generation_tokens_total ${frames}\nloadmesh_sim_stream_frames_total ${frames}\nloadmesh_sim_open_streams ${open}\nloadmesh_sim_backpressure_total ${backpressure}\n` +
      `loadmesh_sim_event_loop_lag_seconds{quantile="0.99"} ${lag.count > 0 ? q(lag.percentile(99)) : 0}\n` +
      `loadmesh_sim_event_loop_lag_seconds{quantile="1"} ${lag.count > 0 ? q(lag.max) : 0}\n`
    lag.reset()
    return s
  }
  const server = createServer({ noDelay: true }, (sock) => {
    let started = false
    let slot = -1
    sock.on('data', (d: Buffer) => {
      if (started) return
      const text = d.toString('latin1')
      if (text.startsWith('GET /metrics')) {
        const body = metrics()
        sock.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`)
        return
      }
      if (text.includes(c.gcPrompt)) {
        gc?.()
        sock.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}')
        return
      }
      started = true
      open++
      sock.write(HEAD)
      slot = next++ % slots
      setTimeout(() => { if (!sock.destroyed) wheel[slot].add(sock) }, c.ttftMs)
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      if (!started) return
      open--
      wheel[slot].delete(sock)
    })
  })
  // One tick per millisecond writes the frames of the streams due in that slot.
  let t = 0
  setInterval(() => {
    for (const sock of wheel[t]) {
      frames++
      if (!sock.write(CHUNK)) backpressure++
    }
    t = (t + 1) % slots
  }, 1)
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const addr = server.address()
  ready(typeof addr === 'object' && addr !== null ? addr.port : 0)
  await new Promise<never>(() => { /* serves until killed */ })
})
