import { fileURLToPath } from 'node:url'
import { BenchError } from './bench-error.ts'
import type { ProcessRegistry } from './processes.ts'

/**
 * Measured clients and the SSE server run as child Node processes so each can be pinned to its
 * own core with taskset and its CPU time (process.cpuUsage) is its own. Parent and child talk
 * over the IPC channel: the config goes in argv as JSON, one message comes back.
 */
type WorkerMessage =
  | { type: 'ready'; port: number }
  | { type: 'measuring' }
  | { type: 'result'; data: unknown }
  | { type: 'error'; message: string }

export function workerPath(name: string): string {
  return fileURLToPath(new URL(`./workers/${name}`, import.meta.url))
}

export interface WorkerRunOptions {
  /** The core to pin the worker to; null: not pinned (the OS places it). */
  core: number | null
  /** Killed (and the promise rejected) after this long. */
  timeoutMs: number
  execArgv?: string[]
  /** The worker has finished its warm-up and starts the measured phase. */
  onMeasuring?: () => void
}

function spawnWorker(registry: ProcessRegistry, script: string, config: unknown, o: WorkerRunOptions) {
  const child = registry.spawn(o.core, process.execPath, [...(o.execArgv ?? []), script, JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc']
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000)
  })
  return { child, stderr: () => stderr.trim() }
}

/**
 * Runs a worker to completion and returns the data it sent, once the process has exited: a
 * worker still tearing down must not overlap the next measurement.
 */
export function runWorker<T>(registry: ProcessRegistry, script: string, config: unknown, o: WorkerRunOptions): Promise<T> {
  const { child, stderr } = spawnWorker(registry, script, config, o)
  const name = script.split('/').pop()
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let data: { value: T } | null = null
    let failure: Error | null = null
    const timer = setTimeout(() => {
      fail(new BenchError('ERR_WORKER_TIMEOUT', `${name}: no result within ${o.timeoutMs} ms; killed`))
      void registry.stop(child, 500)
    }, o.timeoutMs)
    function fail(err: Error): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(err)
    }
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'measuring') o.onMeasuring?.()
      else if (m.type === 'result') data ??= { value: m.data as T }
      else if (m.type === 'error') failure ??= new BenchError('ERR_WORKER_FAILED', `${name}: ${m.message}`)
    })
    child.once('error', (err) => fail(new BenchError('ERR_WORKER_FAILED', `${name}: could not start: ${err.message}`)))
    // 'close' comes after the exit and after stderr and the IPC channel are drained, so the
    // result message, if any, has been seen.
    child.once('close', (code, signal) => {
      setImmediate(() => {
        if (settled) return
        if (failure !== null) { fail(failure); return }
        if (data === null) {
          fail(new BenchError('ERR_WORKER_FAILED', `${name}: exited (${code ?? signal}) without a result${stderr() === '' ? '' : `:\n${stderr()}`}`))
          return
        }
        settled = true
        clearTimeout(timer)
        resolve(data.value)
      })
    })
  })
}

export interface ServerWorker {
  port: number
  pid: number | null
  stop(): Promise<void>
}

/** Starts a long-lived worker that reports `{ type: 'ready', port }` once it listens. */
export function startServerWorker(registry: ProcessRegistry, script: string, config: unknown, o: WorkerRunOptions): Promise<ServerWorker> {
  const { child, stderr } = spawnWorker(registry, script, config, o)
  const name = script.split('/').pop()
  return new Promise<ServerWorker>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => {
      fail(new BenchError('ERR_WORKER_TIMEOUT', `${name}: not ready within ${o.timeoutMs} ms; killed`))
      void registry.stop(child, 500)
    }, o.timeoutMs)
    function fail(err: Error): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(err)
    }
    child.on('message', (m: WorkerMessage) => {
      if (settled) return
      if (m.type === 'ready') {
        settled = true
        clearTimeout(timer)
        resolve({ port: m.port, pid: child.pid ?? null, stop: () => registry.stop(child) })
      } else if (m.type === 'error') {
        fail(new BenchError('ERR_WORKER_FAILED', `${name}: ${m.message}`))
      }
    })
    child.once('error', (err) => fail(new BenchError('ERR_WORKER_FAILED', `${name}: could not start: ${err.message}`)))
    child.once('exit', (code, signal) => {
      setImmediate(() => fail(new BenchError('ERR_WORKER_FAILED', `${name}: exited (${code ?? signal}) before it was ready${stderr() === '' ? '' : `:\n${stderr()}`}`)))
    })
  })
}

/**
 * The child side: parses the config, dies with the parent (IPC disconnect) or at its own hard
 * deadline, and sends back what `main` returns (or its error). Only for scripts under workers/.
 */
export interface WorkerSignals {
  /** A server worker listens on `port`. */
  ready(port: number): void
  /** A client worker's warm-up is over; its measured phase starts now. */
  measuring(): void
}

export function workerMain<C extends { deadlineMs: number }>(main: (config: C, signals: WorkerSignals) => Promise<unknown>): void {
  const send = (m: WorkerMessage, then?: () => void): void => {
    if (process.send === undefined) {
      process.stderr.write(`${JSON.stringify(m)}\n`)
      then?.()
      return
    }
    process.send(m, undefined, {}, () => then?.())
  }
  process.on('disconnect', () => process.exit(0))
  let config: C
  try {
    config = JSON.parse(process.argv[2] ?? '') as C
  } catch {
    process.stderr.write(`worker: argv[2] must be the JSON config, got ${process.argv[2]}\n`)
    process.exit(2)
  }
  const deadline = setTimeout(() => {
    process.stderr.write(`worker: hard deadline of ${config.deadlineMs} ms reached\n`)
    process.exit(3)
  }, config.deadlineMs)
  deadline.unref()
  main(config, { ready: (port) => send({ type: 'ready', port }), measuring: () => send({ type: 'measuring' }) }).then(
    (data) => { if (data !== undefined) send({ type: 'result', data }, () => process.exit(0)) },
    (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }, () => process.exit(1))
  )
}
