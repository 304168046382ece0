import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openGossipStreamsInParallel } from '../src/gossip-stream-opener.ts'

/** Stands in for gossipsub's internals: each stream open waits until the test settles it. */
function fakeGossipsub(): {
  pubsub: { outboundInflightQueue: { push(job: unknown): void, end(): void }, createOutboundStream(peerId: unknown, connection: unknown): Promise<void> }
  started: string[]
  finish(peer: string, fail?: boolean): void
  ended: () => boolean
} {
  const started: string[] = []
  const pending = new Map<string, Array<{ resolve: () => void, reject: (e: Error) => void }>>()
  let ended = false
  const pubsub = {
    outboundInflightQueue: { push() { throw new Error('the original queue must not be used') }, end() { ended = true } },
    async createOutboundStream(peerId: unknown, connection: unknown): Promise<void> {
      assert.equal(this, pubsub, 'called as a method of gossipsub')
      assert.equal(connection, `conn-${String(peerId)}`)
      started.push(String(peerId))
      await new Promise<void>((resolve, reject) => {
        const list = pending.get(String(peerId)) ?? []
        list.push({ resolve, reject })
        pending.set(String(peerId), list)
      })
    }
  }
  return {
    pubsub,
    started,
    finish(peer, fail = false) {
      const p = pending.get(peer)?.shift()
      assert.ok(p !== undefined, `no open in progress for ${peer}`)
      if (fail) p.reject(new Error('negotiation timed out'))
      else p.resolve()
    },
    ended: () => ended
  }
}

const tick = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }
const job = (peer: string): { peerId: string, connection: string } => ({ peerId: peer, connection: `conn-${peer}` })

test('a slow stream open to one peer does not hold up the streams to others', async () => {
  const g = fakeGossipsub()
  assert.equal(openGossipStreamsInParallel(g.pubsub), true)
  g.pubsub.outboundInflightQueue.push(job('a'))
  g.pubsub.outboundInflightQueue.push(job('b'))
  g.pubsub.outboundInflightQueue.push(job('c'))
  await tick()
  // gossipsub's own queue would have started only 'a' and waited for it.
  assert.deepEqual(g.started, ['a', 'b', 'c'])
  g.finish('c')
  g.finish('b')
  await tick()
  assert.deepEqual(g.started, ['a', 'b', 'c'])
})

test('opens to the same peer run one after another, and a failure lets the next one try', async () => {
  const g = fakeGossipsub()
  openGossipStreamsInParallel(g.pubsub)
  // gossipsub queues a peer on connect and again when the peer opens a stream to us.
  g.pubsub.outboundInflightQueue.push(job('a'))
  g.pubsub.outboundInflightQueue.push(job('a'))
  await tick()
  assert.deepEqual(g.started, ['a'])
  g.finish('a', true)
  await tick()
  assert.deepEqual(g.started, ['a', 'a'], 'the second job runs once the first has failed')
  g.finish('a')
  await tick()
  g.pubsub.outboundInflightQueue.push(job('a'))
  await tick()
  assert.deepEqual(g.started, ['a', 'a', 'a'], 'a later repair of the same peer runs')
})

test('stopping gossipsub ends the original queue, and jobs after that are ignored', async () => {
  const g = fakeGossipsub()
  openGossipStreamsInParallel(g.pubsub)
  g.pubsub.outboundInflightQueue.end()
  assert.equal(g.ended(), true)
  g.pubsub.outboundInflightQueue.push(job('a'))
  await tick()
  assert.deepEqual(g.started, [])
})

test('unknown gossipsub internals are left alone', () => {
  const pubsub = { outboundInflightQueue: undefined }
  assert.equal(openGossipStreamsInParallel(pubsub), false)
  assert.equal(pubsub.outboundInflightQueue, undefined)
})
