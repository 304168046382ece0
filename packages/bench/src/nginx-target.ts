import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BenchError } from './bench-error.ts'
import { renderNginxConfig } from './nginx-config.ts'
import { CHAT_COMPLETION_JSON, CHAT_PATH } from './payloads.ts'
import { freePort, waitForPort } from './ports.ts'
import type { ProcessRegistry } from './processes.ts'

export interface Target {
  /** e.g. http://127.0.0.1:41234 */
  baseUrl: string
  port: number
  /** The process on the target core, for CPU accounting. */
  pid: number | null
  description: string
  stop(): Promise<void>
}

/** nginx (one process) on `core`, config and logs in `dir`, answering POST /v1/chat/completions. */
export async function startNginx(registry: ProcessRegistry, nginxPath: string, dir: string, core: number): Promise<Target> {
  const prefix = join(dir, 'nginx')
  mkdirSync(prefix, { recursive: true })
  const port = await freePort()
  const conf = join(prefix, 'nginx.conf')
  const errorLog = join(prefix, 'error.log')
  writeFileSync(conf, renderNginxConfig({ prefix, port, body: CHAT_COMPLETION_JSON, path: CHAT_PATH }))
  const child = registry.spawn(core, nginxPath, ['-p', `${prefix}/`, '-e', errorLog, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  let spawnError: Error | null = null
  child.once('error', (err) => { spawnError = err })
  const dead = (): string | null => {
    if (spawnError !== null) return `nginx could not be started (${nginxPath}): ${(spawnError as Error).message}`
    if (child.exitCode === null && child.signalCode === null) return null
    let log = ''
    try { log = readFileSync(errorLog, 'utf8') } catch { /* none written */ }
    return `nginx exited (${child.exitCode ?? child.signalCode}) before listening on 127.0.0.1:${port}: ${(stderr + log).trim().slice(-600)}`
  }
  try {
    await waitForPort(port, 5000, dead)
  } catch (err) {
    await registry.stop(child)
    throw err instanceof BenchError ? err : new BenchError('ERR_TARGET', String(err))
  }
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? null,
    description: 'nginx, 1 process, fixed JSON body',
    stop: () => registry.stop(child)
  }
}
