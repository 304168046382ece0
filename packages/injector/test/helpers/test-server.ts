import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Clock, Timer } from '@loadmesh/clock'

export interface ReceivedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
}

export interface TestServer {
  url: string
  /** TCP connections accepted so far. */
  connections(): number
  requests: ReceivedRequest[]
  close(): Promise<void>
}

export type Handler = (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>

/** An HTTP server on 127.0.0.1, port 0, that reads each request body before calling `handler`. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const requests: ReceivedRequest[] = []
  const sockets = new Set<Socket>()
  let connections = 0
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => {
      const r: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(parts).toString('utf8') }
      requests.push(r)
      Promise.resolve(handler(r, res)).catch((err: unknown) => { res.destroy(err as Error) })
    })
  })
  server.on('connection', (s: Socket) => {
    connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * A clock whose every `now()` reading is the next multiple of 10 ms. The injector reads the clock
 * once when sending, once per network read and once at the end, so a server that waits for each
 * reading before its next write gets exact, predictable timestamps, and each of its writes is
 * known to be a separate network read.
 */
export interface SteppingClock extends Clock {
  readings(): number
  /** Resolves once the clock has been read more than `n` times. */
  waitForReadingsAbove(n: number): Promise<void>
}

export function steppingClock(timers: 'real' | 'held' = 'real'): SteppingClock & { held: HeldTimer[] } {
  let n = 0
  const held: HeldTimer[] = []
  return {
    held,
    now: () => ++n * 10,
    wallNow: () => Date.now(),
    readings: () => n,
    setTimer(fn, ms): Timer {
      if (timers === 'held') {
        const h: HeldTimer = { ms, fire: () => { if (!h.cancelled) { h.cancelled = true; fn() } }, cancelled: false }
        held.push(h)
        return { cancel: () => { h.cancelled = true } }
      }
      const t = setTimeout(fn, ms)
      return { cancel: () => clearTimeout(t) }
    },
    setImmediate(fn): Timer {
      const t = setImmediate(fn)
      return { cancel: () => clearImmediate(t) }
    },
    async waitForReadingsAbove(k) {
      const deadline = Date.now() + 5000
      while (n <= k) {
        if (Date.now() > deadline) throw new Error(`clock read ${n} times, waited for more than ${k}`)
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
  }
}

export interface HeldTimer {
  ms: number
  fire(): void
  cancelled: boolean
}

/**
 * Writes an SSE response one piece at a time, each after the client has read the previous one
 * (a clock reading), so every piece is its own network read with its own timestamp.
 */
export async function writePaced(res: ServerResponse, clock: SteppingClock, pieces: string[], opts: { end?: boolean; contentType?: string } = {}): Promise<void> {
  res.writeHead(200, { 'content-type': opts.contentType ?? 'text/event-stream' })
  res.flushHeaders()
  for (const p of pieces) {
    const before = clock.readings()
    res.write(p)
    await clock.waitForReadingsAbove(before)
  }
  if (opts.end !== false) res.end()
}

export const sse = (obj: unknown): string => `data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`

export function chatChunk(delta: Record<string, unknown>, finish: string | null = null): unknown {
  return { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] }
}
