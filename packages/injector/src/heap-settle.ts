import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * Runs one full garbage collection, for a scheduler to call after its setup and before its first
 * due time. Returns false when no collection could be requested.
 *
 * Why: whatever a run allocates while it gets ready (a parsed request log, the prompt pool, the
 * report's histograms, undici's first connections) is still in V8's young generation when the
 * schedule starts. The first young-generation collections of the run then have to copy all of it,
 * and such a scavenge was measured at 11-23 ms (replay of the Azure trace: 12.5 MB survived one
 * scavenge, then 10 MB were promoted by the next), during which nothing is sent: it was the largest
 * schedule lag of those runs. A full collection now promotes the survivors and frees the setup
 * garbage, so the scavenges during the run only see the run's own short-lived objects (measured
 * 0.8-2 ms). The collection itself takes ~20-40 ms, before the clock starts.
 *
 * V8 exposes `gc` only behind --expose-gc. The flag is turned on just long enough to create one
 * context that has it, and off again, so no other code in the process sees a `gc` global.
 */
export function settleHeap(): boolean {
  const gc = collector()
  if (gc === null) return false
  gc()
  return true
}

let cached: (() => void) | null | undefined

function collector(): (() => void) | null {
  if (cached !== undefined) return cached
  const own = (globalThis as { gc?: unknown }).gc
  if (typeof own === 'function') {
    cached = own as () => void
    return cached
  }
  try {
    setFlagsFromString('--expose-gc')
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : null')
    cached = typeof gc === 'function' ? gc as () => void : null
  } catch {
    cached = null
  } finally {
    setFlagsFromString('--no-expose-gc')
  }
  return cached
}
