import { createServer, connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { BenchError } from './bench-error.ts'

/** A loopback port that was free a moment ago (the kernel picks it; the race window is tiny). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/** Resolves once 127.0.0.1:port accepts a connection; polls every 25 ms up to `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, isDead: () => string | null = () => null): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const dead = isDead()
    if (dead !== null) throw new BenchError('ERR_TARGET_DIED', dead)
    if (await canConnect(port)) return
    if (performance.now() > deadline) {
      throw new BenchError('ERR_TARGET_TIMEOUT', `nothing accepted connections on 127.0.0.1:${port} within ${timeoutMs} ms`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}
