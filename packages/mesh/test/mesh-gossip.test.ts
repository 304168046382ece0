import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createManualClock } from '@loadmesh/clock'
import { createMeshNode, generateSwarmKey, MeshConfigError, MeshStateError, MessageTooLargeError } from '../src/index.ts'
import { fullyConnected, hostPort, makeNode, stopAll, str, text, waitFor } from './helpers.ts'

afterEach(stopAll)

test('B and C know only A as host:port; all three end up connected and a message from C reaches A and B', async () => {
  const swarmKey = generateSwarmKey()
  const a = await makeNode({ swarmKey })
  const b = await makeNode({ swarmKey, seeds: [hostPort(a)] })
  const c = await makeNode({ swarmKey, seeds: [hostPort(a)] })
  const got: Record<string, Array<[string, string]>> = { a: [], b: [] }
  a.subscribe('state', (from, bytes) => got.a.push([from, str(bytes)]))
  b.subscribe('state', (from, bytes) => got.b.push([from, str(bytes)]))
  await waitFor(() => fullyConnected([a, b, c]), 'A, B and C all connected to each other (B-C through peer exchange)')
  await c.waitForTopicPeers('state', 2, 10_000)
  const recipients = await c.publish('state', text('hello from C'))
  assert.equal(recipients, 2)
  await waitFor(() => got.a.length === 1 && got.b.length === 1, 'A and B received the message')
  assert.deepEqual(got.a, [[c.peerId, 'hello from C']])
  assert.deepEqual(got.b, [[c.peerId, 'hello from C']])
  assert.equal(c.stats().messagesOut, 1)
  assert.equal(a.stats().messagesIn, 1)
  assert.equal(a.stats().gossipBytesIn, 'hello from C'.length)
})

test('onTopicPeer names a peer once a publish on the topic reaches it directly, and a publish then does', async () => {
  const swarmKey = generateSwarmKey()
  const a = await makeNode({ swarmKey })
  a.subscribe('state', () => {})
  const seen: Array<{ peer: string, reachable: boolean }> = []
  a.onTopicPeer('state', (peer) => seen.push({ peer, reachable: a.topicPeers('state').includes(peer) }))
  const other: string[] = []
  a.onTopicPeer('results', (peer) => other.push(peer))
  const b = await makeNode({ swarmKey, seeds: [hostPort(a)] })
  const got: string[] = []
  b.subscribe('state', (_from, bytes) => got.push(str(bytes)))
  await waitFor(() => seen.length > 0, 'A told of B')
  assert.deepEqual(seen[0], { peer: b.peerId, reachable: true })
  assert.deepEqual(other, [], 'B is not subscribed to results')
  assert.equal(await a.publish('state', text('hello B')), 1)
  await waitFor(() => got.length === 1, 'B received it')
})

test('topics are per mesh name and per topic: no cross-talk', async () => {
  const a = await makeNode({ meshName: 'blue' })
  const b = await makeNode({ meshName: 'blue', seeds: [hostPort(a)] })
  const other = await makeNode({ meshName: 'green', seeds: [hostPort(a)] })
  const seen: string[] = []
  b.subscribe('control', (_f, m) => seen.push(`control:${str(m)}`))
  b.subscribe('state', (_f, m) => seen.push(`state:${str(m)}`))
  other.subscribe('control', (_f, m) => seen.push(`green:${str(m)}`))
  await waitFor(() => fullyConnected([a, b]) && other.connectedPeers().length > 0, 'connected')
  await a.waitForTopicPeers('control', 1, 10_000)
  await a.waitForTopicPeers('state', 1, 10_000)
  await a.publish('control', text('1'))
  await a.publish('state', text('2'))
  await waitFor(() => seen.length >= 2, 'b got both')
  assert.deepEqual(seen.sort(), ['control:1', 'state:2'])
  assert.deepEqual(a.topicPeers('control'), [b.peerId], 'the green node is not subscribed to blue topics')
})

test('oversized gossip is dropped and counted before any handler sees it; later messages still arrive', async () => {
  const a = await makeNode()
  // a sender configured with a larger limit than its peers, as an old or hostile node would be
  const sender = await makeNode({ seeds: [hostPort(a)], maxGossipBytes: 1024 * 1024 })
  const got: number[] = []
  a.subscribe('results', (_from, bytes) => got.push(bytes.length))
  await sender.waitForTopicPeers('results', 1, 10_000)
  await sender.publish('results', new Uint8Array(64 * 1024 + 1))
  await sender.publish('results', new Uint8Array(64 * 1024))
  await sender.publish('results', new Uint8Array(10))
  await waitFor(() => got.length === 2 && a.stats().droppedOversize === 1, 'two delivered, one dropped')
  assert.deepEqual(got.sort((x, y) => x - y), [10, 64 * 1024])
  assert.equal(a.stats().messagesIn, 2)
})

test('publishing over the limit is refused locally with a clear error', async () => {
  const a = await makeNode({ maxGossipBytes: 100 })
  await assert.rejects(a.publish('state', new Uint8Array(101)), (err: unknown) => {
    assert.ok(err instanceof MessageTooLargeError)
    assert.match(err.message, /101 bytes on state is over the 100-byte limit/)
    return true
  })
  assert.equal(a.stats().messagesOut, 0)
})

test('handler exceptions and rejections are caught and counted; other handlers and later messages are unaffected', async () => {
  const a = await makeNode()
  const b = await makeNode({ seeds: [hostPort(a)] })
  const good: string[] = []
  b.subscribe('state', () => { throw new Error('boom') })
  b.subscribe('state', async () => { throw new Error('async boom') })
  b.subscribe('state', (_f, m) => good.push(str(m)))
  await a.waitForTopicPeers('state', 1, 10_000)
  await a.publish('state', text('one'))
  await a.publish('state', text('two'))
  await waitFor(() => good.length === 2 && b.stats().handlerErrors === 4, 'both delivered to the good handler, four errors counted')
  assert.deepEqual(good, ['one', 'two'])
})

test('unsubscribing stops delivery; the last unsubscribe leaves the topic', async () => {
  const a = await makeNode()
  const b = await makeNode({ seeds: [hostPort(a)] })
  const got: string[] = []
  const off1 = b.subscribe('state', (_f, m) => got.push(`1:${str(m)}`))
  const off2 = b.subscribe('state', (_f, m) => got.push(`2:${str(m)}`))
  await a.waitForTopicPeers('state', 1, 10_000)
  await a.publish('state', text('x'))
  await waitFor(() => got.length === 2, 'both handlers')
  off1()
  off1() // idempotent
  await a.publish('state', text('y'))
  await waitFor(() => got.length === 3, 'one handler left')
  assert.deepEqual(got.sort(), ['1:x', '2:x', '2:y'])
  off2()
  await waitFor(() => a.topicPeers('state').length === 0, 'A learns that B left the topic')
})

test('a node subscribed before start receives once started', async () => {
  const b = createMeshNode({
    listen: ['/ip4/127.0.0.1/tcp/0'], seeds: [], privateKey: await generateKeyPair('Ed25519'),
    meshName: 'test', clock: createManualClock()
  })
  const got: string[] = []
  b.subscribe('state', (_f, m) => got.push(str(m)))
  try {
    await assert.rejects(b.publish('state', text('x')), MeshStateError)
    await b.start()
    await assert.rejects(b.start(), /already started/)
    // b's clock is manual, so it never dials; a dials b instead
    const c = await makeNode({ seeds: [hostPort(b)] })
    await c.waitForTopicPeers('state', 1, 10_000)
    await c.publish('state', text('late'))
    await waitFor(() => got.length === 1, 'b got it')
  } finally {
    await b.stop()
    await b.stop() // idempotent
  }
  await assert.rejects(b.publish('state', text('x')), /stopped/)
  assert.throws(() => b.subscribe('state', () => {}), MeshStateError)
})

test('stop() while start() is still running leaves nothing listening or running', async () => {
  const node = createMeshNode({
    listen: ['/ip4/127.0.0.1/tcp/0'], seeds: [], privateKey: await generateKeyPair('Ed25519'),
    meshName: 'test', clock: createManualClock()
  })
  const starting = node.start()
  await node.stop()
  await starting
  assert.deepEqual(node.addresses(), [])
  await assert.rejects(node.publish('state', text('x')), /stopped/)
})

test('a lone node publishes to nobody without error', async () => {
  const a = await makeNode()
  assert.equal(await a.publish('state', text('anyone?')), 0)
  assert.equal(a.stats().messagesOut, 1)
})

test('bad options and names are refused up front', async () => {
  const privateKey = await generateKeyPair('Ed25519')
  const base = { listen: ['/ip4/127.0.0.1/tcp/0'], seeds: [], privateKey, meshName: 'm', clock: createManualClock() }
  assert.throws(() => createMeshNode({ ...base, meshName: 'a/b' }), MeshConfigError)
  assert.throws(() => createMeshNode({ ...base, listen: [] }), /at least one multiaddr/)
  assert.throws(() => createMeshNode({ ...base, listen: ['127.0.0.1:4001'] }), /listen address "127.0.0.1:4001" is not a multiaddr/)
  assert.throws(() => createMeshNode({ ...base, swarmKey: 'nope' }), /swarm key: line 1/)
  assert.throws(() => createMeshNode({ ...base, gossip: { D: 3, Dlo: 4 } }), /Dlo <= D <= Dhi/)
  const secp = await generateKeyPair('secp256k1')
  assert.throws(() => createMeshNode({ ...base, privateKey: secp }), /must be Ed25519/)
  const node = createMeshNode(base)
  assert.throws(() => node.subscribe('_peers', () => {}), /topic "_peers" is invalid/)
  assert.throws(() => node.subscribe('a/b', () => {}), MeshConfigError)
  assert.throws(() => node.handleStream('reconcile', async () => new Uint8Array()), /stream protocol "reconcile" is invalid/)
})

test('a listen port already in use is refused with the address named, and nothing is left running', async () => {
  const { createServer } = await import('node:net')
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  const port = (busy.address() as { port: number }).port
  try {
    const node = createMeshNode({
      listen: [`/ip4/127.0.0.1/tcp/${port}`], seeds: [], privateKey: await generateKeyPair('Ed25519'),
      meshName: 'test', clock: createManualClock()
    })
    await assert.rejects(node.start(), (e: Error) => e instanceof MeshConfigError && e.message.includes(`/ip4/127.0.0.1/tcp/${port}`) && /in use/.test(e.message))
    assert.deepEqual(node.addresses(), [])
  } finally {
    busy.close()
  }
})
