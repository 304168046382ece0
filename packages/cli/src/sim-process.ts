import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface SimProcess {
  url: string
  stop(): Promise<void>
}

const BIN = fileURLToPath(new URL('./bin.ts', import.meta.url))

/**
 * Runs the simulator in its own process for `rehearse`. Sharing one event loop with the injector
 * would let the simulator's work (tokenising prompts, writing frames) show up as the generator's
 * schedule lag, and a real server never shares a core with its load generator either.
 */
export function startSimulatorProcess (args: string[], timeoutMs = 20_000): Promise<SimProcess> {
  // Its own process group, so the terminal's Ctrl-C reaches only the agent, which then drains its
  // in-flight requests against a simulator that is still up. The IPC channel ties the simulator's
  // life to ours: when we exit, even by SIGKILL, it closes and the simulator stops.
  const child = spawn(process.execPath, [BIN, 'simulate', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true })
  const stderr = child.stderr as NodeJS.ReadableStream & { setEncoding(e: string): NodeJS.ReadableStream }
  return new Promise((resolve, reject) => {
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the simulator did not start within ${timeoutMs} ms: ${err}`)) }, timeoutMs)
    const onExit = (code: number | null): void => { clearTimeout(timer); reject(new Error(`the simulator exited (${code}) before listening: ${err.trim()}`)) }
    child.once('exit', onExit)
    stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
      const m = /listening on (http:\/\/\S+)/.exec(err)
      if (m === null) return
      clearTimeout(timer)
      child.off('exit', onExit)
      stderr.removeAllListeners('data')
      stderr.resume()
      resolve({
        url: m[1],
        stop: () => new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) { done(); return }
          const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
          child.once('exit', () => { clearTimeout(kill); done() })
          child.kill('SIGTERM')
          child.disconnect()
        })
      })
    })
  })
}
