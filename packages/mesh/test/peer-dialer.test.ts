import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock } from '@loadmesh/clock'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { PeerDialer } from '../src/peer-dialer.ts'
import { silentLogger } from '../src/logger.ts'

const SELF = '12D3KooWMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM'
const LOW = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' // sorts before SELF
const HIGH = '12D3KooWZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ' // sorts after SELF

interface Harness {
  clock: ReturnType<typeof createManualClock>
  dialer: PeerDialer
  connected: Set<string>
  /** [time, first address] of every dial. */
  dials: Array<[number, string]>
  /** Decides each dial's outcome: a peer id, or an Error to fail with. */
  outcome: (addrs: Multiaddr[]) => string | Error
  run(ms: number, step?: number): Promise<void>
}

function harness(opts: { maxPeers?: number } = {}): Harness {
  const clock = createManualClock()
  const connected = new Set<string>()
  const h: Harness = {
    clock,
    connected,
    dials: [],
    outcome: () => new Error('connection refused'),
    dialer: undefined as unknown as PeerDialer,
    async run(ms, step = 10) {
      for (let t = 0; t < ms; t += step) {
        clock.advance(step)
        h.dialer.tick()
        await new Promise((r) => setImmediate(r)) // let dial promises settle
      }
    }
  }
  h.dialer = new PeerDialer({
    clock,
    selfPeerId: SELF,
    connectedPeers: () => connected,
    logger: silentLogger,
    baseMs: 100,
    maxMs: 1000,
    maxPeers: opts.maxPeers ?? 64,
    peerTtlMs: 3000,
    graceMs: 400,
    dial: async (addrs) => {
      h.dials.push([clock.now(), addrs[0].toString()])
      const r = h.outcome(addrs)
      if (r instanceof Error) throw r
      connected.add(r)
      return r
    }
  })
  return h
}

test('an unreachable seed is retried with doubling delays, capped, and never given up', async () => {
  const h = harness()
  h.dialer.addSeed(multiaddr('/ip4/10.0.0.9/tcp/4001'))
  await h.run(8000, 1)
  const times = h.dials.map(([t]) => t)
  const gaps = times.slice(1).map((t, i) => t - times[i])
  assert.ok(times[0] <= 1, 'first dial on the first tick')
  // one fixed spread factor in [0.75, 1.25) per (node, seed), then doubling: ~100, 200, 400, 800, 1000, 1000...
  const f = gaps[0] / 100
  assert.ok(f >= 0.75 && f < 1.35, `spread factor ${f}`)
  const expected = [100, 200, 400, 800, 1000, 1000, 1000].map((d) => d * f)
  // f is measured to 1 ms in 100, hence the relative tolerance
  expected.forEach((e, i) => { assert.ok(Math.abs(gaps[i] - e) <= 2 + e * 0.02, `gap ${i}: ${gaps[i]} vs ${e}`) })
  assert.ok(h.dials.length >= 10, 'still dialling after 8 s')
  assert.equal(h.dialer.stats().dialFailures, h.dials.length)
})

test('a connected seed is left alone, and redialled soon after it drops', async () => {
  const h = harness()
  h.outcome = () => LOW
  h.dialer.addSeed(multiaddr('/dns4/seed.svc/tcp/4001'))
  await h.run(1000)
  assert.equal(h.dials.length, 1)
  h.connected.delete(LOW)
  await h.run(200)
  assert.equal(h.dials.length, 2, 'redialled after the disconnect')
})

test('a seed that is this node is dropped when it is an IP or carries our id; a DNS seed is only backed off', async () => {
  const h = harness()
  h.outcome = () => new Error('Can not dial self')
  h.dialer.addSeed(multiaddr('/ip4/127.0.0.1/tcp/4001'))
  h.dialer.addSeed(multiaddr(`/ip4/10.0.0.1/tcp/4001/p2p/${SELF}`))
  await h.run(3000)
  assert.deepEqual(h.dials.map(([, a]) => a), ['/ip4/127.0.0.1/tcp/4001'])

  const d = harness()
  d.outcome = () => new Error('Can not dial self')
  d.dialer.addSeed(multiaddr('/dns4/loadmesh.default.svc/tcp/4001'))
  await d.run(3000)
  assert.ok(d.dials.length >= 3, 'a headless-service name may resolve to other pods later')
})

test('of two peers that learn of each other, the smaller id dials at once and the other waits out the grace period', async () => {
  const h = harness()
  h.outcome = (addrs) => addrs[0].toString().split('/p2p/')[1]
  h.dialer.learn(LOW, [multiaddr(`/ip4/10.0.0.2/tcp/1/p2p/${LOW}`)])
  h.dialer.learn(HIGH, [multiaddr(`/ip4/10.0.0.3/tcp/1/p2p/${HIGH}`)])
  await h.run(20)
  assert.deepEqual(h.dials.map(([, a]) => a), [`/ip4/10.0.0.3/tcp/1/p2p/${HIGH}`], 'we (SELF < HIGH) dial HIGH; LOW is expected to dial us')
  await h.run(500)
  assert.equal(h.dials.length, 2, 'LOW never dialled us, so after the grace period we dial it')
  assert.ok(h.dials[1][0] >= 400)

  const g = harness()
  g.dialer.learn(LOW, [multiaddr(`/ip4/10.0.0.2/tcp/1/p2p/${LOW}`)])
  g.connected.add(LOW) // LOW dialled us within the grace period
  await g.run(1000)
  assert.equal(g.dials.length, 0)
})

test('a peer no longer announced is forgotten after the TTL; re-announcing refreshes it', async () => {
  const h = harness()
  h.outcome = () => new Error('refused')
  h.dialer.learn(HIGH, [multiaddr(`/ip4/10.0.0.3/tcp/1/p2p/${HIGH}`)])
  h.dialer.learn(LOW, [multiaddr(`/ip4/10.0.0.2/tcp/1/p2p/${LOW}`)])
  await h.run(2000)
  h.dialer.learn(LOW, [multiaddr(`/ip4/10.0.0.2/tcp/1/p2p/${LOW}`)])
  await h.run(1500)
  assert.equal(h.dialer.stats().knownPeers, 1, 'HIGH expired (3 s without an announcement), LOW refreshed')
  const before = h.dials.length
  await h.run(3000)
  assert.equal(h.dialer.stats().knownPeers, 0)
  await h.run(3000)
  assert.ok(h.dials.length - before <= 3, 'no dials to forgotten peers')
})

test('discovered peers are not dialled beyond maxPeers connections (seeds neither)', async () => {
  const h = harness({ maxPeers: 2 })
  h.connected.add('a').add('b')
  h.dialer.learn(HIGH, [multiaddr(`/ip4/10.0.0.3/tcp/1/p2p/${HIGH}`)])
  h.dialer.addSeed(multiaddr('/ip4/10.0.0.9/tcp/4001'))
  await h.run(1000)
  assert.equal(h.dials.length, 0)
  h.connected.delete('b')
  await h.run(20)
  assert.equal(h.dials.length, 2)
})

test('after stop() nothing is dialled', async () => {
  const h = harness()
  h.dialer.addSeed(multiaddr('/ip4/10.0.0.9/tcp/4001'))
  h.dialer.stop()
  await h.run(1000)
  assert.equal(h.dials.length, 0)
})

test('when a connection drops, the smaller id redials at once and the larger waits the grace period again', async () => {
  const h = harness()
  h.outcome = (addrs) => addrs[0].toString().split('/p2p/')[1]
  h.dialer.learn(LOW, [multiaddr(`/ip4/10.0.0.2/tcp/1/p2p/${LOW}`)])
  h.dialer.learn(HIGH, [multiaddr(`/ip4/10.0.0.3/tcp/1/p2p/${HIGH}`)])
  h.connected.add(LOW) // LOW dialled us
  await h.run(2000)
  assert.deepEqual(h.dials.map(([, a]) => a), [`/ip4/10.0.0.3/tcp/1/p2p/${HIGH}`])
  // Both connections drop long after we learned of the peers (learning alone no longer holds us back).
  h.dials.length = 0
  h.connected.delete(LOW)
  h.connected.delete(HIGH)
  const droppedAt = h.clock.now()
  await h.run(300)
  assert.deepEqual(h.dials.map(([, a]) => a), [`/ip4/10.0.0.3/tcp/1/p2p/${HIGH}`], 'HIGH redialled by us at once; LOW is expected to redial us')
  await h.run(300)
  assert.equal(h.dials.length, 2, 'LOW did not redial within the grace period, so we do')
  assert.equal(h.dials[1][1], `/ip4/10.0.0.2/tcp/1/p2p/${LOW}`)
  assert.ok(h.dials[1][0] - droppedAt >= 400, `redialled LOW ${h.dials[1][0] - droppedAt} ms after the drop`)
})

test('a seed and a discovered peer at the same address are one node: never two dials to it', async () => {
  // The discovered peer is learned while the seed dial to its address is still in flight.
  const h = harness()
  let finish: ((id: string) => void) | undefined
  const pending = new Promise<string>((resolve) => { finish = resolve })
  h.dialer = new PeerDialer({
    clock: h.clock,
    selfPeerId: SELF,
    connectedPeers: () => h.connected,
    logger: silentLogger,
    baseMs: 100,
    maxMs: 1000,
    maxPeers: 64,
    peerTtlMs: 3000,
    graceMs: 400,
    dial: async (addrs) => {
      h.dials.push([h.clock.now(), addrs[0].toString()])
      const id = addrs[0].toString().includes('/p2p/') ? addrs[0].toString().split('/p2p/')[1] : await pending
      h.connected.add(id)
      return id
    }
  })
  h.dialer.addSeed(multiaddr('/ip4/10.0.0.9/tcp/4001'))
  await h.run(20)
  h.dialer.learn(HIGH, [multiaddr(`/ip4/10.0.0.9/tcp/4001/p2p/${HIGH}`)])
  await h.run(200)
  assert.deepEqual(h.dials.map(([, a]) => a), ['/ip4/10.0.0.9/tcp/4001'], 'the peer at the seed address is left to the seed dial')
  finish?.(HIGH)
  await h.run(500)
  assert.equal(h.dials.length, 1, 'connected through the seed dial: nothing else dialled')

  // The peer is connected (it dialled us) before the seed is first tried: the seed is that peer.
  const g = harness()
  g.outcome = () => new Error('must not dial')
  g.dialer.learn(LOW, [multiaddr(`/ip4/10.0.0.8/tcp/4001/p2p/${LOW}`)])
  g.connected.add(LOW)
  g.dialer.addSeed(multiaddr('/ip4/10.0.0.8/tcp/4001'))
  await g.run(1000)
  assert.equal(g.dials.length, 0, 'the seed is the connected peer: not dialled')
  // It leaves: the seed is dialled by address again.
  g.connected.delete(LOW)
  await g.run(50)
  assert.deepEqual(g.dials.map(([, a]) => a).slice(0, 1), ['/ip4/10.0.0.8/tcp/4001'])
})
