// Holds N concurrent streaming requests open against the simulator (raw keep-alive sockets, one
// pre-built request each, event ends counted and nothing parsed) and reads the server's own cost
// from its /metrics: CPU seconds, RSS and heap, event-loop lag, generation tokens, frames written.
// A few probe streams also time each content frame and count its tokens: the ITL a client sees.
import { get, request } from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { buildRawRequest, createEventEndCounter } from '../raw-sse-reader.ts'
import { workerMain } from '../worker-protocol.ts'

export interface SseStreamsClientConfig {
  deadlineMs: number
  port: number
  streams: number
  /** Streams opened at a time (connect, send, wait for the first event), so the listen backlog never overflows. */
  wave: number
  /** max_tokens per request: enough that no stream ends before the measurement does. */
  maxTokens: number
  /** Time allowed for all streams to be answered (headers). */
  openTimeoutMs: number
  /** Then, time allowed for every open stream to deliver its first event (more than the server's TTFT). */
  firstEventTimeoutMs: number
  warmupMs: number
  durationMs: number
  /** The server worker's gcPrompt: a completion with this prompt runs a full GC in the server first. */
  gcPrompt: string
  /** Streams (spread over the N) whose frames are timed and their tokens counted. */
  probes: number
}

/** What the server's /metrics said at one moment. */
export interface ServerSnapshot {
  cpuS: number
  rssBytes: number
  heapBytes: number
  externalBytes: number
  generationTokens: number
  /** Token-carrying frames written (one socket write each). */
  frames: number
  openStreams: number
  lagP99S: number
  lagMaxS: number
  backpressure: number
}

export interface SseStreamsClientResult {
  streams: number
  /** Streams the server answered (headers). */
  opened: number
  /** Streams that got their first token and were still open at the end of the measurement. */
  held: number
  /** Streams the server closed or failed before the end. */
  lost: number
  openMs: number
  /** Idle server, all streams open and streaming (before warm-up), start and end of the measured phase. */
  idle: ServerSnapshot
  open: ServerSnapshot
  start: ServerSnapshot
  end: ServerSnapshot
  /** SSE events the client counted in the measured phase. */
  events: number
  wallMs: number
  /** The client's own CPU time in the measured phase. */
  cpuMs: number
  /** Probe streams, measured phase: gaps between content frames, and per token (a frame's gap over its tokens). */
  probes: number
  probeFrames: number
  probeTokens: number
  chunkGapP50Ms: number | null
  chunkGapP99Ms: number | null
  itlP50Ms: number | null
  itlP99Ms: number | null
}

/** Asks the server worker for a full GC (see gcPrompt), then reads its /metrics. */
async function scrapeAfterGc(port: number, gcPrompt: string): Promise<ServerSnapshot> {
  await new Promise<void>((resolve, reject) => {
    const body = JSON.stringify({ model: 'loadmesh-sim', prompt: gcPrompt, max_tokens: 1 })
    const req = request({ host: '127.0.0.1', port, path: '/v1/completions', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => { resolve() })
    })
    req.on('error', reject)
    req.end(body)
  })
  return await scrape(port)
}

function scrape(port: number): Promise<ServerSnapshot> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => { text += d })
      res.on('end', () => {
        const value = (name: string, labels = ''): number => {
          const re = new RegExp(`^${name.replace(/[:.]/g, '\\$&')}(\\{[^}]*${labels.replace(/[".]/g, '\\$&')}[^}]*\\})? (\\S+)$`, 'm')
          const m = re.exec(text)
          if (m === null) throw new Error(`/metrics has no ${name}${labels === '' ? '' : ` {${labels}}`}`)
          return Number(m[2])
        }
        try {
          resolve({
            cpuS: value('process_cpu_seconds_total'),
            rssBytes: value('process_resident_memory_bytes'),
            heapBytes: value('nodejs_heap_size_used_bytes'),
            externalBytes: value('nodejs_external_memory_bytes'),
            generationTokens: value('vllm:generation_tokens_total'),
            frames: value('loadmesh_sim_stream_frames_total'),
            openStreams: value('loadmesh_sim_open_streams'),
            lagP99S: value('loadmesh_sim_event_loop_lag_seconds', 'quantile="0.99"'),
            lagMaxS: value('loadmesh_sim_event_loop_lag_seconds', 'quantile="1"'),
            backpressure: value('loadmesh_sim_backpressure_total')
          })
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('error', reject)
    req.setTimeout(30_000, () => { req.destroy(new Error('GET /metrics: no answer within 30 s')) })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

workerMain<SseStreamsClientConfig>(async (c, { measuring }) => {
  const body = JSON.stringify({ model: 'loadmesh-sim', messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: c.maxTokens, stream: true })
  const request = buildRawRequest(c.port, '/v1/chat/completions', body)
  // A short warm-up of the server's code paths, so the idle snapshot does not count JIT and lazy setup as per-stream memory.
  const idleWarm = await openStreams(c.port, request, Math.min(64, c.streams), 64, 10_000, null)
  await idleWarm.firstEvents(c.firstEventTimeoutMs)
  for (const s of idleWarm.sockets) s.destroy()
  await sleep(500)
  const idle = await scrapeAfterGc(c.port, c.gcPrompt)
  const t0 = performance.now()
  const probe = new ProbeStats(Math.max(1, Math.floor(c.streams / Math.max(1, c.probes))))
  const opened = await openStreams(c.port, request, c.streams, c.wave, c.openTimeoutMs, probe)
  try {
    // The server's TTFT is long enough that no stream produces tokens while the others are still
    // connecting; a server saturated by tokens would starve the connections still to come.
    await opened.firstEvents(c.firstEventTimeoutMs)
    const openMs = performance.now() - t0
    const open = await scrapeAfterGc(c.port, c.gcPrompt)
    await sleep(c.warmupMs)
    const start = await scrape(c.port)
    measuring()
    probe.recording = true
    const events0 = opened.events()
    const cpu0 = process.cpuUsage()
    const w0 = performance.now()
    await sleep(c.durationMs)
    const end = await scrape(c.port)
    const wallMs = performance.now() - w0
    probe.recording = false
    const cpu = process.cpuUsage(cpu0)
    const events = opened.events() - events0
    const result: SseStreamsClientResult = {
      streams: c.streams,
      opened: opened.opened(),
      held: opened.held(),
      lost: opened.lost(),
      openMs,
      idle,
      open,
      start,
      end,
      events,
      wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      probes: probe.streams,
      probeFrames: probe.gaps.length,
      probeTokens: probe.tokenItls.length,
      chunkGapP50Ms: quantile(probe.gaps, 0.5),
      chunkGapP99Ms: quantile(probe.gaps, 0.99),
      itlP50Ms: quantile(probe.tokenItls, 0.5),
      itlP99Ms: quantile(probe.tokenItls, 0.99)
    }
    return result
  } finally {
    for (const s of opened.sockets) s.destroy()
  }
})

function quantile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null
  const sorted = Float64Array.from(xs).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

const CONTENT = Buffer.from('"content":"', 'latin1')
const QUOTE = 0x22
const SPACE = 0x20
const EVENT_END = Buffer.from('\n\n', 'latin1')

/**
 * What the probe streams saw. A content frame's tokens are the spaces in its text (the simulator's
 * words each carry a leading space after the first). `gaps` are per frame, as a client iterating
 * chunks sees them (what vLLM's benchmark calls ITL; frames that arrive in one read are 0 apart).
 * `tokenItls` share each read's gap over the tokens it brought: k tokens after a gap g give k token
 * gaps of g / k, as a client computing ITL per token (TPOT-style) would.
 */
class ProbeStats {
  readonly every: number
  streams = 0
  recording = false
  readonly gaps: number[] = []
  readonly tokenItls: number[] = []

  constructor(every: number) {
    this.every = every
  }

  /** A frame reader for one probe stream: feed it every piece, with its arrival time. */
  reader(): (piece: Buffer, at: number) => void {
    this.streams++
    let rest: Buffer | null = null
    let last = Number.NaN
    return (piece, at) => {
      const buf = rest === null ? piece : Buffer.concat([rest, piece])
      const prev = last
      let tokens = 0
      let from = 0
      for (;;) {
        const end = buf.indexOf(EVENT_END, from)
        if (end < 0) break
        const c = buf.indexOf(CONTENT, from)
        if (c >= 0 && c < end) {
          let k = 0
          let i = c + CONTENT.length
          for (; i < end && buf[i] !== QUOTE; i++) if (buf[i] === SPACE) k++
          // k = 0: the role chunk or the first word, which only starts the clock.
          if (k > 0 && !Number.isNaN(last) && this.recording) this.gaps.push(at - last)
          if (k > 0 && !Number.isNaN(prev)) tokens += k
          if (i > c + CONTENT.length) last = at
        }
        from = end + 2
      }
      if (tokens > 0 && this.recording) {
        const g = (at - prev) / tokens
        for (let j = 0; j < tokens; j++) this.tokenItls.push(g)
      }
      rest = from >= buf.length ? null : Buffer.from(buf.subarray(from))
    }
  }
}

interface Opened {
  sockets: Socket[]
  /** Resolves when every opened stream has had its first event, or after `timeoutMs`. */
  firstEvents(timeoutMs: number): Promise<void>
  events(): number
  opened(): number
  held(): number
  lost(): number
}

/**
 * Opens `n` streams, `wave` at a time: connect, send, wait for the response to start (its headers);
 * resolves when all are open or after `timeoutMs`.
 */
async function openStreams(port: number, request: Buffer, n: number, wave: number, timeoutMs: number, probe: ProbeStats | null): Promise<Opened> {
  const sockets: Socket[] = []
  let events = 0
  let opened = 0
  let held = 0
  let lost = 0
  let waiting: (() => void) | null = null
  const deadline = performance.now() + timeoutMs
  const openOne = (index: number): Promise<void> => new Promise((resolve) => {
    const counter = createEventEndCounter()
    const frames = probe !== null && index % probe.every === 0 ? probe.reader() : null
    let answered = false
    let first = true
    let alive = true
    const s = connect({ host: '127.0.0.1', port, noDelay: true })
    sockets.push(s)
    const gone = (): void => {
      if (!alive) return
      alive = false
      lost++
      if (!first) held--
      resolve()
    }
    s.once('connect', () => { s.write(request) })
    s.on('data', (piece: Buffer) => {
      if (!answered) {
        answered = true
        opened++
        resolve()
      }
      frames?.(piece, performance.now())
      const k = counter.push(piece)
      if (k === 0) return
      events += k
      if (first) {
        first = false
        held++
        if (held === opened) waiting?.()
      }
    })
    s.on('error', gone)
    s.on('close', gone)
  })
  for (let i = 0; i < n && performance.now() < deadline; i += wave) {
    const batch: Array<Promise<void>> = []
    for (let j = i; j < Math.min(n, i + wave); j++) batch.push(openOne(j))
    await Promise.race([Promise.all(batch), sleep(Math.max(0, deadline - performance.now()))])
  }
  return {
    sockets,
    firstEvents: (ms) => (held >= opened
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
        const t = setTimeout(() => { waiting = null; resolve() }, ms)
        waiting = () => { clearTimeout(t); waiting = null; resolve() }
      })),
    events: () => events,
    opened: () => opened,
    held: () => held,
    lost: () => lost
  }
}
