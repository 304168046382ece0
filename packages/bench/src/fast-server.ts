import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { buildJsonResponse, buildSseResponse } from './payloads.ts'
import type { SseResponse, SseResponseOptions } from './payloads.ts'

export interface FastServer {
  readonly port: number
  readonly sse: SseResponse
  /** Responses started so far (streamed and not). */
  readonly responses: number
  close(): Promise<void>
}

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1')
const STREAM_TRUE = Buffer.from('"stream":true', 'latin1')
const MAX_HEAD = 64 * 1024

/**
 * A deliberately minimal HTTP/1.1 server on `net`: it answers every request at once with a
 * pre-built response, the streamed one in `writes` big writes, so that the client, not the server,
 * is the bottleneck. A body containing `"stream":true` gets SSE; anything else the JSON answer.
 * Requests may arrive pipelined or split across reads; a malformed one closes the connection.
 */
export interface FastServerOptions extends SseResponseOptions {
  port?: number
  /** Sees every request (head without the blank line, body); for tests and body capture. */
  onRequest?: (head: string, body: Buffer) => void
}

export function startFastServer(o: FastServerOptions): Promise<FastServer> {
  const sse = buildSseResponse(o)
  const json = buildJsonResponse()
  let responses = 0
  const sockets = new Set<Socket>()

  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let pending: Buffer | null = null
    socket.on('data', (chunk: Buffer) => {
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk])
      pending = null
      for (;;) {
        const headEnd = buf.indexOf(HEADER_END)
        if (headEnd < 0) {
          if (buf.length > MAX_HEAD) { socket.destroy(); return }
          pending = buf
          return
        }
        const length = contentLength(buf.toString('latin1', 0, headEnd))
        if (length < 0) { socket.destroy(); return }
        const end = headEnd + 4 + length
        if (buf.length < end) { pending = buf; return }
        const body = buf.subarray(headEnd + 4, end)
        o.onRequest?.(buf.toString('latin1', 0, headEnd), Buffer.from(body))
        const streamed = body.indexOf(STREAM_TRUE) >= 0
        responses++
        if (streamed) {
          for (const w of sse.writes) socket.write(w)
        } else {
          socket.write(json)
        }
        if (buf.length === end) return
        buf = buf.subarray(end)
      }
    })
  })

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({
        port,
        sse,
        get responses() { return responses },
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy()
          server.close(() => r())
        })
      })
    })
  })
}

/** The Content-Length of a request head; 0 when absent, -1 when invalid or chunked (not supported). */
export function contentLength(head: string): number {
  const lower = head.toLowerCase()
  if (lower.includes('\r\ntransfer-encoding:')) return -1
  const at = lower.indexOf('\r\ncontent-length:')
  if (at < 0) return 0
  const end = lower.indexOf('\r\n', at + 2)
  const value = lower.slice(at + '\r\ncontent-length:'.length, end < 0 ? lower.length : end).trim()
  if (!/^\d+$/.test(value)) return -1
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : -1
}
