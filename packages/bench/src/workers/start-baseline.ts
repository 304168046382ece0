// The mesh suite's start-skew baseline: N bare processes (no libp2p, no agent, nothing else to do)
// meet one shared T0 the way agents meet a plan's (a timer to 2 ms before it, then a blocking futex
// wait; see the injector's blockUntil) and each writes one pre-built request to the same target.
// How late they are is what this host allows N processes that start at one instant.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { workerMain } from '../worker-protocol.ts'

export interface StartBaselineConfig {
  deadlineMs: number
  processes: number
  repetitions: number
  /** http://host:port of an OpenAI-compatible server (the suite's simulator). */
  target: string
  /** T0 is this far ahead of each repetition's announcement, ms. */
  leadMs: number
  /** Pause between repetitions (the responses finish meanwhile), ms. */
  gapMs: number
}

export interface StartBaseline {
  /** Per process and repetition: the request's write after T0, ms. */
  late_ms: number[]
}

/** CLOCK_MONOTONIC in ms: one clock for every process on the host, unlike performance.now(). */
function hrMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

type ToChild = { t0: number }
type FromChild = { ready: true } | { late: number } | { error: string }

function child(target: string): void {
  const url = new URL(target)
  const body = JSON.stringify({
    model: 'loadmesh-sim',
    messages: [{ role: 'user', content: 'the start skew baseline sends this short prompt once per repetition' }],
    max_tokens: 4,
    stream: true
  })
  const request = Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n` +
    `accept: text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  const cell = new Int32Array(new SharedArrayBuffer(4))
  // performance.now() is this process's own; hrtime is the host's. One offset, taken once.
  const offset = hrMs() - performance.now()
  const send = (m: FromChild): void => { process.send?.(m) }
  const socket = connect(Number(url.port), url.hostname, () => send({ ready: true }))
  socket.setNoDelay(true)
  socket.on('data', () => {})
  socket.on('error', (err) => { send({ error: err.message }); process.exit(1) })
  process.on('disconnect', () => process.exit(0))
  process.on('message', (m: ToChild) => {
    const t0 = m.t0 - offset
    const go = (): void => {
      const wait = t0 - performance.now() - 0.05
      if (wait > 0) Atomics.wait(cell, 0, 0, wait)
      while (performance.now() < t0) { /* the futex's early margin */ }
      const at = performance.now()
      socket.write(request)
      send({ late: at - t0 })
    }
    setTimeout(go, Math.max(0, t0 - 2 - performance.now()))
  })
}

async function parent(c: StartBaselineConfig): Promise<StartBaseline> {
  const self = fileURLToPath(import.meta.url)
  const kids: ChildProcess[] = []
  // Each process answers once per request: its waiter, if any, takes the answer.
  const waiters = new Map<ChildProcess, { resolve: (m: FromChild) => void, reject: (e: Error) => void }>()
  const take = (k: ChildProcess): { resolve: (m: FromChild) => void, reject: (e: Error) => void } | undefined => {
    const w = waiters.get(k)
    waiters.delete(k)
    return w
  }
  const next = (k: ChildProcess): Promise<FromChild> => new Promise((resolve, reject) => { waiters.set(k, { resolve, reject }) })
  try {
    for (let i = 0; i < c.processes; i++) {
      const k = fork(self, ['--child', c.target], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      k.on('message', (m: FromChild) => { const w = take(k); if ('error' in m) w?.reject(new Error(`a baseline process failed: ${m.error}`)); else w?.resolve(m) })
      k.on('exit', (code) => take(k)?.reject(new Error(`a baseline process exited (${code})`)))
      kids.push(k)
    }
    await Promise.all(kids.map(next))
    const late: number[] = []
    for (let rep = 0; rep < c.repetitions; rep++) {
      const t0 = hrMs() + c.leadMs
      const answers = Promise.all(kids.map(next))
      for (const k of kids) k.send({ t0 } satisfies ToChild)
      for (const m of await answers) if ('late' in m) late.push(m.late)
      await new Promise((r) => setTimeout(r, c.gapMs))
    }
    return { late_ms: late }
  } finally {
    for (const k of kids) { k.removeAllListeners(); k.kill() }
  }
}

if (process.argv[2] === '--child') child(process.argv[3] as string)
else workerMain<StartBaselineConfig>(parent)
