import { MeshArgumentError } from './errors.ts'

/**
 * A Lamport clock. `observe` every stamp received, `tick` before issuing a command: the new stamp is
 * then above everything this peer has seen, so a command issued after seeing a plan outranks it.
 */
export interface LamportClock {
  /** The highest stamp seen or issued so far. */
  now(): number
  /** Advances for a local event (a command this peer issues) and returns its stamp. */
  tick(): number
  /** Takes a received stamp into account (max rule). Returns the clock's value afterwards. */
  observe(stamp: number): number
}

export function createLamportClock(initial = 0): LamportClock {
  checkStamp(initial, 'createLamportClock initial')
  let t = initial
  return {
    now: () => t,
    tick() {
      if (t >= Number.MAX_SAFE_INTEGER) throw new MeshArgumentError('lamport clock: exhausted (at 2^53 - 1)')
      return ++t
    },
    observe(stamp) {
      // A bad stamp is ignored, not thrown: it comes from the network (decoders already bound it).
      if (Number.isSafeInteger(stamp) && stamp > t) t = stamp
      return t
    }
  }
}

function checkStamp(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new MeshArgumentError(`${what}: must be a non-negative integer, got ${v}`)
}
