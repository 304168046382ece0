import { connect } from 'node:net'
import type { Socket } from 'node:net'

const NL = 0x0a
const BLANK = Buffer.from('\n\n', 'latin1')

/**
 * Counts SSE event ends ("\n\n") in a byte stream fed in arbitrary pieces, without parsing
 * anything else. The only state is whether the previous piece ended in an unpaired "\n".
 */
export interface EventEndCounter {
  /** Event ends completed by this piece. */
  push(piece: Uint8Array): number
}

export function createEventEndCounter(): EventEndCounter {
  let trailingNl = false
  return {
    push(piece) {
      const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)
      let n = 0
      let from = 0
      if (trailingNl && buf.length > 0 && buf[0] === NL) {
        n++
        from = 1
      }
      for (;;) {
        const i = buf.indexOf(BLANK, from)
        if (i < 0) break
        n++
        from = i + 2
      }
      trailingNl = buf.length > from && buf[buf.length - 1] === NL
      return n
    }
  }
}

export interface RawReaderOptions {
  port: number
  connections: number
  /** The request to send, whole (head and body), pre-encoded. */
  request: Buffer
  /** SSE events in one response; after this many, the connection sends its next request. */
  eventsPerResponse: number
}

export interface RawRunResult {
  responses: number
  events: number
  wallMs: number
}

export interface RawSseReader {
  /**
   * Every connection sends requests back to back until `durationMs` has passed (or `maxResponses`
   * responses completed), then finishes its current response. Rejects if a connection fails, or
   * after `durationMs` + 10 s if the server stops answering.
   */
  run(durationMs: number, maxResponses?: number): Promise<RawRunResult>
  close(): void
}

/**
 * The cheapest client that still does the job: keep-alive sockets, a pre-built HTTP/1.1 request,
 * and a count of event ends. It knows where a response ends only by counting its events (the
 * server's responses are fixed), so it is a baseline for the client's own cost, not a client.
 */
export async function createRawSseReader(o: RawReaderOptions): Promise<RawSseReader> {
  const sockets = await Promise.all(Array.from({ length: o.connections }, () => open(o.port)))
  const counters = sockets.map(() => createEventEndCounter())
  const pending = sockets.map(() => 0)
  let listener: ((i: number, n: number) => void) | null = null
  let failure: ((err: Error) => void) | null = null
  sockets.forEach((s, i) => {
    s.on('data', (piece: Buffer) => {
      const n = counters[i].push(piece)
      if (n > 0) listener?.(i, n)
    })
    s.on('error', (err) => failure?.(err))
    s.on('close', () => failure?.(new Error(`raw reader: connection ${i} to 127.0.0.1:${o.port} closed by the server`)))
  })

  return {
    run(durationMs, maxResponses = Number.POSITIVE_INFINITY) {
      return new Promise<RawRunResult>((resolve, reject) => {
        const t0 = performance.now()
        const endAt = t0 + durationMs
        let responses = 0
        let events = 0
        let busy = 0
        let started = 0
        let done = false
        const hard = setTimeout(() => finish(new Error(`raw reader: responses still incomplete ${durationMs + 10_000} ms after the start`)), durationMs + 10_000)
        function finish(err: Error | null): void {
          if (done) return
          done = true
          clearTimeout(hard)
          listener = null
          failure = null
          if (err !== null) reject(err)
          else resolve({ responses, events, wallMs: performance.now() - t0 })
        }
        function send(i: number): void {
          busy++
          started++
          pending[i] = o.eventsPerResponse
          sockets[i].write(o.request)
        }
        listener = (i, n) => {
          events += n
          pending[i] -= n
          if (pending[i] > 0) return
          if (pending[i] < 0) { finish(new Error(`raw reader: connection ${i} got ${-pending[i]} more events than its response has`)); return }
          responses++
          busy--
          if (performance.now() < endAt && started < maxResponses) send(i)
          else if (busy === 0) finish(null)
        }
        failure = (err) => finish(err)
        for (let i = 0; i < sockets.length && started < maxResponses; i++) send(i)
        if (busy === 0) finish(null)
      })
    },
    close() {
      failure = null
      for (const s of sockets) s.destroy()
    }
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true })
    s.once('connect', () => { s.off('error', reject); resolve(s) })
    s.once('error', reject)
  })
}

/** A hand-written HTTP/1.1 keep-alive POST. */
export function buildRawRequest(port: number, path: string, body: string): Buffer {
  const b = Buffer.from(body, 'utf8')
  return Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
      `accept: text/event-stream\r\ncontent-length: ${b.length}\r\n\r\n`,
      'latin1'
    ),
    b
  ])
}
