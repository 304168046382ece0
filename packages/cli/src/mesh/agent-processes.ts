import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../bin.ts', import.meta.url))

export interface AgentProcess {
  peerId: string
  /** Its first 127.0.0.1 TCP address as host:port (what other peers use as a seed). */
  seed: string
  stop(): Promise<void>
}

/**
 * Starts `loadmesh agent` in its own process and resolves with the peer id and address from its
 * ready line. Like the simulator child, it has an IPC channel: when we exit (even by SIGKILL) the
 * channel closes and the agent stops.
 */
export function startAgentProcess (args: string[], timeoutMs = 30_000): Promise<AgentProcess> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'agent', ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true })
  const stderr = child.stderr as NodeJS.ReadableStream & { setEncoding(e: string): NodeJS.ReadableStream }
  const stop = (): Promise<void> => new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) { done(); return }
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(kill); done() })
    child.kill('SIGTERM')
    if (child.connected) child.disconnect()
  })
  return new Promise((resolve, reject) => {
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`an agent did not start within ${timeoutMs} ms: ${err}`)) }, timeoutMs)
    const onExit = (code: number | null): void => { clearTimeout(timer); reject(new Error(`an agent exited (${code}) before listening: ${err.trim()}`)) }
    child.once('exit', onExit)
    stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
      const m = /loadmesh agent (\S+) listening on (\S+)/.exec(err)
      if (m === null) return
      clearTimeout(timer)
      child.off('exit', onExit)
      stderr.removeAllListeners('data')
      stderr.resume()
      const tcp = m[2].split(',').map((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(a)).find((x) => x !== null)
      if (tcp === undefined) { void stop(); reject(new Error(`agent ${m[1]} has no 127.0.0.1 TCP address: ${m[2]}`)); return }
      resolve({ peerId: m[1], seed: `127.0.0.1:${tcp[1]}`, stop })
    })
  })
}
