import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock } from '@loadmesh/clock'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { PeerExchange, announceable } from '../src/peer-exchange.ts'
import { PeerDialer } from '../src/peer-dialer.ts'
import { decodePeerAnnounce, encodePeerAnnounce } from '../src/peer-announce.ts'
import { silentLogger } from '../src/logger.ts'
import { peerIdOf } from '../src/index.ts'

const newId = async (): Promise<string> => peerIdOf(await generateKeyPair('Ed25519'))
const addrsOf = (bytes: Uint8Array): string[][] => decodePeerAnnounce(bytes).peers.map((p) => [p.peerId, ...p.addrs.map((a) => multiaddr(a).toString())])

async function harness() {
  const ids = (await Promise.all([1, 2, 3, 4].map(newId))).sort()
  const self = ids[2] // two ids sort below us, one above
  const clock = createManualClock()
  const connected = new Set<string>()
  const published: Array<[number, Uint8Array]> = []
  const dials: string[] = []
  const dialer = new PeerDialer({
    clock, selfPeerId: self, connectedPeers: () => connected, logger: silentLogger,
    baseMs: 1000, maxMs: 30_000, maxPeers: 64, peerTtlMs: 15_000, graceMs: 2000,
    dial: async (addrs) => { dials.push(addrs[0].toString()); throw new Error('refused') }
  })
  const known = new Map<string, Multiaddr[]>()
  let pullResult: () => Promise<Uint8Array> = async () => { throw new Error('protocol not supported') }
  const px = new PeerExchange({
    clock, logger: silentLogger, selfPeerId: self, dialer, connected, announceIntervalMs: 5000,
    ownAddrs: () => [multiaddr(`/ip4/10.0.0.3/tcp/4001/p2p/${self}`), multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/ip4/0.0.0.0/tcp/4001')],
    peerAddrs: async (id) => { const a = known.get(id); if (a === undefined) throw new Error('not found'); return a },
    publish: async (bytes) => { published.push([clock.now(), bytes]) },
    pull: async () => await pullResult()
  })
  const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)) }
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10) { clock.advance(10); px.tick(); await flush() }
  }
  return { ids, self, lower: ids.slice(0, 2), higher: ids[3], clock, connected, published, dials, dialer, known, px, flush, run, setPull: (f: () => Promise<Uint8Array>) => { pullResult = f } }
}

test('announcements are periodic, at a per-node phase, only while connected, and carry only our own addresses', async () => {
  const h = await harness()
  h.px.start()
  await h.run(20_000)
  assert.equal(h.published.length, 0, 'nobody to tell')
  h.connected.add(h.higher)
  h.px.onConnect(h.higher)
  const connectedAt = h.clock.now()
  await h.run(20_000)
  const times = h.published.map(([t]) => t)
  assert.ok(times[0] - connectedAt <= 7500 + 10, `first ${times[0] - connectedAt} ms after the connect: within the base period at the node's phase`)
  assert.ok(Math.abs(times[1] - times[0] - 5000) <= 10, `first period ${times[1] - times[0]}`)
  assert.deepEqual(addrsOf(h.published[0][1]), [[h.self, '/ip4/10.0.0.3/tcp/4001']], 'own entry only; loopback and 0.0.0.0 dropped')
})

test('while connections stay the same the period doubles up to its cap; a connect or disconnect brings back the base period', async () => {
  const h = await harness()
  h.px.start()
  h.connected.add(h.higher)
  h.px.onConnect(h.higher)
  await h.run(160_000)
  const gaps = (from: number): number[] => h.published.slice(from + 1).map(([t], i) => Math.round((t - h.published[from + i][0]) / 10) * 10)
  assert.deepEqual(gaps(0).slice(0, 5), [5000, 10_000, 20_000, 40_000, 40_000], 'doubling from 5 s, capped at 8 x 5 s')
  const before = h.published.length
  const lostAt = h.clock.now()
  h.connected.delete(h.higher)
  h.px.onDisconnect()
  h.connected.add(h.lower[0])
  await h.run(20_000)
  const after = h.published.slice(before).map(([t]) => t)
  assert.ok(after.length >= 3, `${after.length} announcements in the 20 s after a disconnect`)
  assert.ok(after[0] - lostAt <= 7500 + 10, `first ${after[0] - lostAt} ms after the disconnect`)
  assert.ok(Math.abs(after[1] - after[0] - 5000) <= 10, `base period again: ${after[1] - after[0]}`)
})

test('while a known peer has no connection to us the period stays at base, so neither side forgets the other; once it is forgotten the period backs off again', async () => {
  const h = await harness()
  h.px.start()
  h.connected.add(h.lower[0])
  h.px.onConnect(h.lower[0])
  // The higher peer is known (its announcements reach us relayed) but never connected: dials to it fail.
  const announceHigher = (): void => {
    h.px.learn(h.lower[0], encodePeerAnnounce([{ peerId: h.higher, addrs: [multiaddr('/ip4/10.0.0.4/tcp/4001').bytes] }]))
  }
  announceHigher()
  for (let t = 0; t < 60_000; t += 5000) {
    await h.run(5000)
    h.dialer.tick()
    announceHigher()
  }
  const gaps = h.published.slice(1).map(([t], i) => Math.round((t - h.published[i][0]) / 10) * 10)
  assert.ok(gaps.length >= 10, `${gaps.length + 1} announcements in 60 s`)
  assert.deepEqual(new Set(gaps), new Set([5000]), `every gap at the base period (the peer forgets us after 15 s): ${gaps}`)
  // It stops announcing (gone): forgotten after the TTL, then the period doubles as in a full mesh.
  const before = h.published.length
  for (let t = 0; t < 120_000; t += 1000) {
    await h.run(1000)
    h.dialer.tick()
  }
  assert.equal(h.dialer.stats().knownPeers, 0)
  const later = h.published.slice(before).map(([t]) => t)
  const laterGaps = later.slice(1).map((t, i) => Math.round((t - later[i]) / 10) * 10)
  assert.ok(laterGaps.some((g) => g >= 20_000), `backs off once the peer is forgotten: ${laterGaps}`)
})

test('a pulled list is learned: peers go to the dialer with /p2p/ appended; us, bad ids and non-TCP addresses are skipped', async () => {
  const h = await harness()
  h.setPull(async () => encodePeerAnnounce([
    { peerId: h.higher, addrs: [multiaddr('/ip4/10.0.0.4/tcp/4001').bytes, multiaddr('/ip4/10.0.0.4/udp/4001/quic-v1').bytes, new Uint8Array([0xff, 0xff])] },
    { peerId: h.self, addrs: [multiaddr('/ip4/10.0.0.3/tcp/4001').bytes] },
    { peerId: 'not-a-peer-id', addrs: [multiaddr('/ip4/10.0.0.9/tcp/4001').bytes] }
  ]))
  h.px.onConnect(h.higher)
  await h.flush()
  assert.equal(h.px.counters.announcesIn, 1)
  assert.equal(h.dialer.stats().knownPeers, 1)
  assert.deepEqual(h.dials, [`/ip4/10.0.0.4/tcp/4001/p2p/${h.higher}`], 'higher id: we dial it at once')
})

test('a peer that does not answer the pull, or answers garbage, changes nothing', async () => {
  const h = await harness()
  h.px.onConnect(h.higher) // default pull rejects
  h.setPull(async () => Uint8Array.of(0x08))
  h.px.onConnect(h.higher)
  await h.flush()
  assert.deepEqual(h.px.counters, { announcesIn: 0, announcesOut: 0, droppedInvalid: 1 })
  assert.equal(h.dialer.stats().knownPeers, 0)
})

test('learning of a smaller-id peer that may not know us makes us announce soon, at most once a second', async () => {
  const h = await harness() // not started: no periodic announcements in the way
  const list = (id: string): Uint8Array => encodePeerAnnounce([{ peerId: id, addrs: [multiaddr('/ip4/10.0.0.1/tcp/4001').bytes] }])
  h.px.learn(h.lower[0], list(h.lower[0]))
  await h.run(100)
  assert.equal(h.published.length, 1)
  assert.ok(h.published[0][0] >= 50 && h.published[0][0] <= 60)
  h.px.learn(h.lower[1], list(h.lower[1]))
  await h.run(2000)
  assert.equal(h.published.length, 2)
  assert.ok(h.published[1][0] - h.published[0][0] >= 1000, 'rate-limited')
  h.px.learn(h.higher, list(h.higher))
  h.connected.add(h.lower[0])
  h.px.learn(h.lower[0], list(h.lower[0]))
  await h.run(1500)
  assert.equal(h.published.length, 2, 'no nudge for a higher id (we dial it) or a connected peer')
})

test('a pull is answered with us first, then neighbours whose addresses identify reported', async () => {
  const h = await harness()
  h.connected.add(h.lower[0]).add(h.higher)
  h.known.set(h.higher, [multiaddr(`/ip4/10.0.0.4/tcp/4001/p2p/${h.higher}`), multiaddr('/ip4/127.0.0.1/tcp/4001')])
  assert.deepEqual(addrsOf(await h.px.peerList()), [
    [h.self, '/ip4/10.0.0.3/tcp/4001'],
    [h.higher, '/ip4/10.0.0.4/tcp/4001']
  ])
})

test('only loopback addresses are still announced (single-host meshes and tests)', () => {
  const bytes = announceable([multiaddr('/ip4/127.0.0.1/tcp/1'), multiaddr('/ip6/::1/tcp/1'), multiaddr('/ip4/127.0.0.1/tcp/1')])
  assert.deepEqual(bytes.map((b) => multiaddr(b).toString()), ['/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/1'])
})
