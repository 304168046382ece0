import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'

/**
 * Test hosts made of network namespaces: a bridge in the root namespace and one namespace per host,
 * each with a veth into the bridge and its own address. Created and removed by the tests
 * themselves; nothing outside these namespaces is ever addressed.
 */
export interface NetnsLab {
  hosts: Array<{ name: string; ip: string }>
  /** Spawns `argv` inside host i's namespace. */
  spawnIn(i: number, argv: string[], opts?: { env?: Record<string, string> }): ChildProcess
  destroy(): void
}

const PREFIX = 'lmt'

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Why this machine cannot run namespace tests, or null when it can. */
export function netnsUnavailable (): string | null {
  if (process.getuid?.() !== 0) return 'network namespace tests need root (ip netns add)'
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' })
  } catch {
    return 'network namespace tests need iproute2 (apt-get install iproute2)'
  }
  const probe = `${PREFIX}-probe-${process.pid}`
  try {
    ip('netns', 'add', probe)
    ip('netns', 'del', probe)
  } catch (err) {
    return `ip netns add failed here (${(err as Error).message.split('\n')[0]}): the sandbox does not allow network namespaces`
  }
  return null
}

export function createNetnsLab (count: number, subnet = '10.77.0'): NetnsLab {
  const tag = String(process.pid % 10000)
  const bridge = `${PREFIX}br${tag}`
  const hosts = Array.from({ length: count }, (_, i) => ({ name: `${PREFIX}-${tag}-h${i + 1}`, ip: `${subnet}.${11 + i}` }))
  const made: Array<() => void> = []
  const destroy = (): void => {
    for (const undo of made.reverse()) { try { undo() } catch { /* already gone */ } }
    made.length = 0
  }
  try {
    ip('link', 'add', bridge, 'type', 'bridge')
    made.push(() => ip('link', 'del', bridge))
    ip('link', 'set', bridge, 'up')
    hosts.forEach((h, i) => {
      const veth = `${PREFIX}v${tag}x${i + 1}`
      ip('netns', 'add', h.name)
      made.push(() => ip('netns', 'del', h.name))
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.name)
      made.push(() => ip('link', 'del', veth))
      ip('link', 'set', veth, 'master', bridge, 'up')
      ip('-n', h.name, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0')
      ip('-n', h.name, 'link', 'set', 'eth0', 'up')
      ip('-n', h.name, 'link', 'set', 'lo', 'up')
    })
  } catch (err) {
    destroy()
    throw err
  }
  return {
    hosts,
    spawnIn (i, argv, opts = {}) {
      return spawn('ip', ['netns', 'exec', hosts[i].name, ...argv], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    },
    destroy
  }
}
