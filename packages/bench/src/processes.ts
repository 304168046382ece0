import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

/** Where processes run: pinned with taskset when it exists and the core exists. */
export interface Pinning {
  taskset: string | null
  cores: number
  /**
   * util-linux setpriv, to give every child a parent-death signal: nginx has no other way of
   * noticing that the bench was killed outright (SIGKILL runs no exit handler).
   */
  setpriv?: string | null
}

/** The command line that runs `cmd args` on `core`, or unpinned when pinning is impossible. */
export function pinnedCommand(pin: Pinning, core: number, cmd: string, args: readonly string[]): { cmd: string; args: string[]; pinned: boolean } {
  if (pin.taskset !== null && core < pin.cores) {
    return { cmd: pin.taskset, args: ['-c', String(core), cmd, ...args], pinned: true }
  }
  return { cmd, args: [...args], pinned: false }
}

/** `pinnedCommand`, plus a SIGKILL to the child when its parent dies (when setpriv exists). */
export function guardedCommand(pin: Pinning, core: number | null, cmd: string, args: readonly string[]): { cmd: string; args: string[] } {
  const c = core === null ? { cmd, args: [...args] } : pinnedCommand(pin, core, cmd, args)
  if (pin.setpriv == null) return { cmd: c.cmd, args: c.args }
  return { cmd: pin.setpriv, args: ['--pdeathsig', 'KILL', c.cmd, ...c.args] }
}

/**
 * Every process the bench starts, so that all of them die with it: on normal completion, on an
 * error, and on SIGINT/SIGTERM (run.ts calls `killAllSync` from its exit hooks).
 */
export interface ProcessRegistry {
  readonly pinning: Pinning
  /** Runs `cmd` on `core` (null: anywhere), dying with this process where the OS allows. */
  spawn(core: number | null, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(child: ChildProcess, graceMs?: number): Promise<void>
  stopAll(graceMs?: number): Promise<void>
  /** For exit handlers, which cannot wait: SIGKILL to everything still running. */
  killAllSync(): void
  readonly live: number
}

export function createProcessRegistry(pinning: Pinning): ProcessRegistry {
  const children = new Set<ChildProcess>()
  // Detached children lead their own process group (a shell and what it runs); signals go to the group.
  const groups = new WeakSet<ChildProcess>()

  function signal(child: ChildProcess, sig: NodeJS.Signals): void {
    try {
      if (groups.has(child) && child.pid !== undefined) process.kill(-child.pid, sig)
      else child.kill(sig)
    } catch {
      // already gone
    }
  }

  function exited(child: ChildProcess): boolean {
    return child.exitCode !== null || child.signalCode !== null
  }

  const registry: ProcessRegistry = {
    pinning,
    spawn(core, cmd, args, opts = {}) {
      const c = guardedCommand(pinning, core, cmd, args)
      const child = spawn(c.cmd, c.args, opts)
      children.add(child)
      if (opts.detached === true) groups.add(child)
      child.once('exit', () => children.delete(child))
      // A spawn failure (ENOENT) must not become an uncaught 'error' event.
      child.once('error', () => children.delete(child))
      return child
    },
    stop(child, graceMs = 2000) {
      if (exited(child) || child.pid === undefined) {
        children.delete(child)
        return Promise.resolve()
      }
      return new Promise<void>((resolve) => {
        const kill = setTimeout(() => { signal(child, 'SIGKILL') }, graceMs)
        child.once('exit', () => {
          clearTimeout(kill)
          resolve()
        })
        signal(child, 'SIGTERM')
      })
    },
    async stopAll(graceMs = 2000) {
      await Promise.all([...children].map((c) => registry.stop(c, graceMs)))
    },
    killAllSync() {
      for (const c of children) {
        if (!exited(c)) signal(c, 'SIGKILL')
      }
      children.clear()
    },
    get live() {
      return children.size
    }
  }
  return registry
}
