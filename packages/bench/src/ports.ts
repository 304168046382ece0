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

/**
 * A free loopback port below the kernel's ephemeral range (32768+ on Linux), for a process that
 * binds it later: a port the kernel handed out is soon handed out again as the source port of some
 * outgoing connection, and 16 agents dialling each other make hundreds of them (a full bench lost
 * its 8-agent row to exactly that). `taken` keeps one caller's picks apart.
 */
export async function freeListenPort(taken: Set<number>): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (taken.has(port)) continue
    if (await canBind(port)) {
      taken.add(port)
      return port
    }
  }
  return await freePort()
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.unref()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => { s.close(() => resolve(true)) })
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
