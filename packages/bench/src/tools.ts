import { accessSync, constants } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { delimiter, join } from 'node:path'

/** Absolute path of an executable on PATH (plus the sbin directories nginx lives in), or null. */
export function findExecutable(name: string, pathEnv = process.env.PATH ?? ''): string | null {
  const dirs = [...pathEnv.split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'].filter((d) => d !== '')
  for (const dir of dirs) {
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // not here
    }
  }
  return null
}

/** First version-looking token of a tool's version output (nginx and wrk print it on stderr; wrk exits 1). */
export function toolVersion(path: string, args: readonly string[]): string | null {
  const r = spawnSync(path, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 })
  return firstVersion(`${r.stdout ?? ''}${r.stderr ?? ''}`)
}

function firstVersion(text: string): string | null {
  const m = /(\d+\.\d+(?:\.\d+)?)/.exec(text)
  return m === null ? null : m[1]
}

export interface Tools {
  taskset: string | null
  nginx: string | null
  wrk: string | null
  bash: string | null
  setpriv: string | null
}

export function detectTools(): Tools {
  return {
    taskset: findExecutable('taskset'),
    nginx: findExecutable('nginx'),
    wrk: findExecutable('wrk'),
    bash: findExecutable('bash'),
    setpriv: findExecutable('setpriv')
  }
}

export const INSTALL_HINT = 'apt-get install wrk nginx-light'
