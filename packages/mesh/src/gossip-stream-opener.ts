/**
 * gossipsub (17) opens its outbound stream to each new peer from a single queue, one stream at a
 * time: `createOutboundStream` is awaited for one peer before the next starts. Each open is a
 * multistream negotiation plus a peer-store write, and on a loaded host (16 agents booting on 2
 * cores) one took 0.4 to 1.8 s. A joiner's streams then waited in line: traced, streams to peers
 * connected at 3.4-3.9 s came at 5.0-7.8 s, and some only after the node's repair had queued them
 * again, at the back of the same line (docs/architecture.md). Until a peer has our outbound stream
 * it gets neither our heartbeats nor our GRAFTs.
 *
 * This replaces the queue with one that opens streams to different peers at once, and to any one
 * peer one at a time (gossipsub queues a peer twice when it both connects and opens a stream to
 * us; the second job finds the stream open and does nothing, as with the original queue).
 *
 * `onSettled` is called with the peer id after each attempt, whatever its outcome.
 *
 * Returns false, changing nothing, when gossipsub's internals are not the expected ones.
 */
export function openGossipStreamsInParallel(pubsub: unknown, onSettled?: (peerId: string) => void): boolean {
  const internals = pubsub as {
    outboundInflightQueue?: { push(job: unknown): void, end(): void }
    createOutboundStream?: (peerId: unknown, connection: unknown) => Promise<void>
  }
  const original = internals.outboundInflightQueue
  const create = internals.createOutboundStream
  if (original === undefined || typeof original.push !== 'function' || typeof original.end !== 'function' || typeof create !== 'function') return false
  const opening = new Map<string, Array<{ peerId: unknown, connection: unknown }>>()
  let ended = false
  const run = (key: string, job: { peerId: unknown, connection: unknown }): void => {
    create.call(pubsub, job.peerId, job.connection)
      .catch(() => { /* createOutboundStream logs and swallows its own errors */ })
      .finally(() => {
        if (!ended) onSettled?.(key)
        const waiting = opening.get(key)
        const next = waiting?.shift()
        if (next === undefined || ended) opening.delete(key)
        else run(key, next)
      })
  }
  internals.outboundInflightQueue = {
    push(job: unknown): void {
      if (ended) return
      const j = job as { peerId: unknown, connection: unknown }
      const key = String(j.peerId)
      const waiting = opening.get(key)
      if (waiting !== undefined) {
        waiting.push(j)
        return
      }
      opening.set(key, [])
      run(key, j)
    },
    end(): void {
      ended = true
      original.end()
    }
  }
  return true
}
