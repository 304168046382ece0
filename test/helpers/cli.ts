import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../packages/cli/src/bin.ts', import.meta.url))

export interface CliRun { code: number | null; signal: string | null; stdout: string; stderr: string }

/**
 * Runs the real `loadmesh` binary in a child process (the Node that runs the tests, i.e. the
 * project's Node 24). Bounded: killed after `timeoutMs`.
 */
export function runCli (args: string[], opts: { timeoutMs?: number; env?: Record<string, string>; onSpawn?: (kill: (sig: NodeJS.Signals) => void) => void; onStderr?: (all: string, kill: (sig: NodeJS.Signals) => void) => void } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
      opts.onStderr?.(stderr, (sig) => child.kill(sig))
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
    opts.onSpawn?.((sig) => child.kill(sig))
  })
}
