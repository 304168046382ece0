import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateSwarmKey } from '../src/index.ts'
import type { MeshNode } from '../src/index.ts'
import { frameGossip, gossipFlag, gossipPayload, DIRECT_TO_ALL, RELAY } from '../src/gossip-frame.ts'
import { fullyConnected, hostPort, makeNode, stopAll, str, text, waitFor } from './helpers.ts'

afterEach(stopAll)

function collect(node: MeshNode, topic: string): Array<[string, string]> {
  const got: Array<[string, string]> = []
  node.subscribe(topic, (from, bytes) => got.push([from, str(bytes)]))
  return got
}

/** Three default nodes, all connected and subscribed to 'state', with what each received and its relay count so far. */
async function fullMeshOfThree() {
  const swarmKey = generateSwarmKey()
  const a = await makeNode({ swarmKey })
  const b = await makeNode({ swarmKey, seeds: [hostPort(a)] })
  const c = await makeNode({ swarmKey, seeds: [hostPort(a)] })
  const got = [a, b, c].map((n) => collect(n, 'state'))
  await waitFor(() => fullyConnected([a, b, c]), 'all three connected')
  for (const n of [a, b, c]) await n.waitForTopicPeers('state', 2, 10_000)
  const before = [a, b, c].map((n) => n.stats().relayed)
  return { a, b, c, got, before }
}

test('directPublish: in a full mesh every publish goes straight to all peers and nobody relays it', async () => {
  const swarmKey = generateSwarmKey()
  const a = await makeNode({ swarmKey, directPublish: true })
  const others = [
    await makeNode({ swarmKey, seeds: [hostPort(a)], directPublish: true }),
    await makeNode({ swarmKey, seeds: [hostPort(a)], directPublish: true }),
    await makeNode({ swarmKey, seeds: [hostPort(a)], directPublish: true })
  ]
  const nodes = [a, ...others]
  const got = nodes.map((n) => collect(n, 'state'))
  await waitFor(() => fullyConnected(nodes), 'all four connected to each other')
  for (const n of nodes) await n.waitForTopicPeers('state', 3, 10_000)
  // Peer-exchange announcements made while the mesh was forming may have been relayed: count from here.
  const relayedBefore = nodes.map((n) => n.stats().relayed)
  const directBefore = nodes.map((n) => n.stats().publishedDirect)
  for (const [i, n] of nodes.entries()) await n.publish('state', text(`from ${i}`))
  await waitFor(() => got.every((g) => g.length === 3), 'every node received the three others')
  for (const [i, g] of got.entries()) {
    assert.deepEqual(g.map(([, s]) => s).sort(), [0, 1, 2, 3].filter((j) => j !== i).map((j) => `from ${j}`))
  }
  assert.deepEqual(nodes.map((n, i) => n.stats().publishedDirect - directBefore[i] >= 1), [true, true, true, true])
  assert.deepEqual(nodes.map((n, i) => n.stats().relayed - relayedBefore[i]), [0, 0, 0, 0])
})

test('A - B - C in a line (A and C may not connect): messages still cross B, which relays them', async () => {
  const swarmKey = generateSwarmKey()
  const announceIntervalMs = 400
  const b = await makeNode({ swarmKey, announceIntervalMs, directPublish: true })
  const a = await makeNode({ swarmKey, seeds: [hostPort(b)], maxPeers: 1, announceIntervalMs, directPublish: true })
  const c = await makeNode({ swarmKey, seeds: [hostPort(b)], maxPeers: 1, announceIntervalMs, directPublish: true })
  const gotA = collect(a, 'state')
  const gotC = collect(c, 'state')
  const gotB = collect(b, 'state') // a relay must be subscribed: gossipsub relays within a topic
  await waitFor(() => a.connectedPeers().length === 1 && c.connectedPeers().length === 1 && b.connectedPeers().length === 2, 'A and C connected to B')
  // A and C learn of each other through peer exchange, and so know they do not reach everyone.
  await waitFor(() => a.stats().knownPeers >= 2 && c.stats().knownPeers >= 2, 'A and C know of each other')
  await a.waitForTopicPeers('state', 1, 10_000)
  await c.waitForTopicPeers('state', 1, 10_000)
  await b.waitForTopicPeers('state', 2, 10_000)
  await a.publish('state', text('from A'))
  await c.publish('state', text('from C'))
  await waitFor(() => gotA.length === 1 && gotC.length === 1, 'A and C received each other\'s message through B')
  assert.deepEqual(gotC, [[a.peerId, 'from A']])
  assert.deepEqual(gotA, [[c.peerId, 'from C']])
  await waitFor(() => gotB.length === 2, 'B received both')
  assert.ok(b.stats().relayed >= 2, `B relayed ${b.stats().relayed} messages`)
  assert.equal(a.stats().connectedPeers, 1)
  // And they go on knowing each other: past the longest announcement period (8 x 400 ms) and the
  // time a peer not heard of is forgotten (3 x 400 ms). Forgotten, each would stop relaying its
  // heartbeats to the other.
  const until = Date.now() + 4500
  while (Date.now() < until) {
    assert.ok(a.stats().knownPeers >= 2 && c.stats().knownPeers >= 2, `A knows ${a.stats().knownPeers} peers, C ${c.stats().knownPeers}`)
    await new Promise((r) => setTimeout(r, 20))
  }
})

test('without directPublish (the default) every message is relayed, in a full mesh too', async () => {
  const { a, b, c, got, before } = await fullMeshOfThree()
  await a.publish('state', text('from A'))
  await waitFor(() => got[1].length === 1 && got[2].length === 1, 'B and C received it')
  assert.equal(a.stats().publishedDirect, 0)
  assert.deepEqual([b, c].map((n, i) => n.stats().relayed - before[i + 1]), [1, 1])
})

test('a periodic publish (heartbeats) goes straight to every peer and is not relayed; a plain one from the same node is', async () => {
  const { a, b, c, got, before } = await fullMeshOfThree()
  await a.publish('state', text('heartbeat'), { periodic: true })
  await waitFor(() => got[1].length === 1 && got[2].length === 1, 'B and C received the periodic message')
  assert.equal(a.stats().publishedDirect, 1)
  assert.deepEqual([b, c].map((n, i) => n.stats().relayed - before[i + 1]), [0, 0], 'nobody relayed it')
  await a.publish('state', text('command'))
  await waitFor(() => got[1].length === 2 && got[2].length === 2, 'B and C received the plain message')
  assert.equal(a.stats().publishedDirect, 1)
  assert.deepEqual([b, c].map((n, i) => n.stats().relayed - before[i + 1]), [1, 1], 'the plain one was relayed')
})

test('a periodic publish is relayed while the publisher hears from a peer it has no connection to (a joiner)', async () => {
  // A - B - C, A and C capped at one connection. A joined first and never learns C's address: its
  // pull from B predates C, announcements are rare, and C (the smaller id) does not nudge. So A
  // knows of C only by C's gossip, relayed by B; its own periodic messages must then be relayed
  // too, or C never hears A.
  const swarmKey = generateSwarmKey()
  const announceIntervalMs = 600_000
  const keys = [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')]
  keys.sort((x, y) => (peerIdFromPrivateKey(x).toString() < peerIdFromPrivateKey(y).toString() ? -1 : 1))
  const b = await makeNode({ swarmKey, announceIntervalMs })
  const gotB = collect(b, 'state')
  const a = await makeNode({ swarmKey, seeds: [hostPort(b)], maxPeers: 1, announceIntervalMs, privateKey: keys[1] })
  const gotA = collect(a, 'state')
  await waitFor(() => a.connectedPeers().length === 1, 'A connected to B')
  await a.waitForTopicPeers('state', 1, 10_000)
  const c = await makeNode({ swarmKey, seeds: [hostPort(b)], maxPeers: 1, announceIntervalMs, privateKey: keys[0] })
  const gotC = collect(c, 'state')
  await waitFor(() => c.connectedPeers().length === 1 && b.connectedPeers().length === 2, 'C connected to B')
  await c.waitForTopicPeers('state', 1, 10_000)
  await b.waitForTopicPeers('state', 2, 10_000)
  assert.equal(a.stats().knownPeers, 1, 'A learned of C by peer exchange after all: the setup does not test anything')
  // C knows A (its pull from B listed it), so its own heartbeat is relayed and reaches A.
  await c.publish('state', text('C beats'), { periodic: true })
  await waitFor(() => gotA.length === 1, 'A heard C through B')
  assert.deepEqual(gotA, [[c.peerId, 'C beats']])
  await a.publish('state', text('A beats'), { periodic: true })
  await waitFor(() => gotC.length === 1, 'C heard A through B')
  assert.deepEqual(gotC, [[a.peerId, 'A beats']])
  assert.equal(a.stats().publishedDirect, 0)
  await waitFor(() => gotB.length === 2, 'B got both')
})

test('frames: the flag byte round-trips; empty or unknown flags are not ours', () => {
  const payload = text('hello')
  for (const flag of [RELAY, DIRECT_TO_ALL] as const) {
    const framed = frameGossip(flag, payload)
    assert.equal(gossipFlag(framed), flag)
    assert.equal(str(gossipPayload(framed)), 'hello')
  }
  assert.equal(gossipFlag(new Uint8Array(0)), undefined)
  assert.equal(gossipFlag(Uint8Array.of(0, 1, 2)), undefined)
  assert.equal(gossipFlag(Uint8Array.of(3)), undefined)
})
