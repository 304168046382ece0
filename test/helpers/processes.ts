import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { BIN } from './cli.ts'

export interface LongRunning {
  child: ChildProcess
  /** Everything it wrote to stderr so far. */
  stderr(): string
  stdout(): string
  /** Resolves with the first match of `re` in stderr; rejects after `timeoutMs` or if the process exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  exited(): Promise<number | null>
}

/** Every process started here, so an `after` hook can kill whatever a failed test left running. */
export const children = new Set<ChildProcess>()

export function killAll (): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  children.clear()
}

/** Starts the real `loadmesh` binary; bounded by `timeoutMs` (SIGKILL). */
export function startCli (args: string[], timeoutMs = 120_000): LongRunning {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let err = ''
  let out = ''
  const waiters = new Set<() => void>()
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; for (const w of waiters) w() })
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => { clearTimeout(timer); children.delete(child); for (const w of waiters) w(); resolve(code) }))
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited: () => exit,
    waitFor: (re, ms = 30_000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out after ${ms} ms waiting for ${re} in: ${err}`)) }, ms)
      const check = (): void => {
        const m = re.exec(err)
        if (m !== null) { clearTimeout(t); waiters.delete(check); resolve(m); return }
        if (child.exitCode !== null || child.signalCode !== null) { clearTimeout(t); waiters.delete(check); reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${re}: ${err}`)) }
      }
      waiters.add(check)
      check()
    })
  }
}

/** Starts an agent and resolves with its peer id and its 127.0.0.1 seed address (host:port). */
export async function startAgent (args: string[]): Promise<{ proc: LongRunning; peerId: string; seed: string }> {
  const proc = startCli(['agent', '--listen', '/ip4/127.0.0.1/tcp/0', ...args])
  const m = await proc.waitFor(/loadmesh agent (\S+) listening on (\S+)/)
  const port = /\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(m[2])
  if (port === null) throw new Error(`no 127.0.0.1 address in ${m[2]}`)
  return { proc, peerId: m[1], seed: `127.0.0.1:${port[1]}` }
}
