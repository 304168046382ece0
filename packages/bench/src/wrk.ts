import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BenchError } from './bench-error.ts'
import { guardedCommand } from './processes.ts'
import type { ProcessRegistry } from './processes.ts'

/** A Lua string literal wrk's LuaJIT reads back byte for byte (decimal escapes for anything unusual). */
export function luaString(s: string): string {
  let out = '"'
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out += byte >= 0x20 && byte < 0x7f && ch !== '"' && ch !== '\\' ? ch : `\\${String(byte).padStart(3, '0')}`
  }
  return `${out}"`
}

/** The wrk script: every request a POST with the given body and headers. */
export function renderWrkScript(body: string, headers: Record<string, string>): string {
  const lines = ['wrk.method = "POST"', `wrk.body = ${luaString(body)}`]
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`)
  return `${lines.join('\n')}\n`
}

export interface WrkOutput {
  requests: number
  seconds: number
  reqPerS: number
  non2xx: number
  socketErrors: number
}

/** Reads wrk's summary ("N requests in 10.00s", "Requests/sec:", errors). */
export function parseWrkOutput(text: string): WrkOutput {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b/.exec(text)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text)
  if (total === null || rps === null) throw new BenchError('ERR_WRK_OUTPUT', `wrk output has no request summary:\n${text.slice(0, 800)}`)
  const unit: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text)
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  return {
    requests: Number(total[1]),
    seconds: Number(total[2]) * unit[total[3]],
    reqPerS: Number(rps[1]),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: sock === null ? 0 : Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4])
  }
}

/** bash's `times`: the second line is the children's user and system time, e.g. "0m1.234s 0m0.567s". */
export function parseBashTimes(text: string): number | null {
  const lines = text.trim().split('\n').filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l.trim()))
  const last = lines[lines.length - 1]
  if (last === undefined || lines.length < 2) return null
  let ms = 0
  for (const part of last.trim().split(' ')) {
    const m = /^(\d+)m([\d.]+)s$/.exec(part)
    if (m === null) return null
    ms += (Number(m[1]) * 60 + Number(m[2])) * 1000
  }
  return ms
}

export interface WrkRun extends WrkOutput {
  /** wrk's user + system CPU (bash `times`), or null without bash. */
  cpuMs: number | null
}

export interface WrkOptions {
  wrk: string
  bash: string | null
  core: number
  url: string
  connections: number
  durationMs: number
  scriptPath: string
}

/** One wrk run (-t1, so it is one thread on one core), pinned; bounded by its own -d plus a margin. */
export function runWrk(registry: ProcessRegistry, o: WrkOptions): Promise<WrkRun> {
  const seconds = Math.max(1, Math.round(o.durationMs / 1000))
  const args = ['-t1', `-c${o.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', o.scriptPath, o.url]
  // Inside the shell too: wrk must die with it (the shell's own guard does not reach its child).
  const wrkCmd = guardedCommand(registry.pinning, o.core, o.wrk, args)
  const child = o.bash === null
    ? registry.spawn(o.core, o.wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : registry.spawn(null, o.bash, ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'bash', wrkCmd.cmd, ...wrkCmd.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void registry.stop(child, 500)
      reject(new BenchError('ERR_WRK_TIMEOUT', `wrk did not finish within ${seconds + 15} s; killed`))
    }, (seconds + 15) * 1000)
    child.once('error', (e) => { clearTimeout(timer); reject(new BenchError('ERR_WRK', `wrk could not start: ${e.message}`)) })
    child.once('close', (code) => {
      clearTimeout(timer)
      if (code !== 0) { reject(new BenchError('ERR_WRK', `wrk exited ${code}: ${(err + out).trim().slice(-800)}`)); return }
      try {
        resolve({ ...parseWrkOutput(out), cpuMs: o.bash === null ? null : parseBashTimes(err) })
      } catch (e) {
        reject(e)
      }
    })
  })
}

/** Writes the POST script next to the other temp files and returns its path. */
export function writeWrkScript(dir: string, body: string, headers: Record<string, string>): string {
  const p = join(dir, 'post.lua')
  writeFileSync(p, renderWrkScript(body, headers))
  return p
}
