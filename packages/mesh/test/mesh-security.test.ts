import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { generateSwarmKey } from '../src/index.ts'
import type { MeshNode } from '../src/index.ts'
import { fullyConnected, hostPort, makeNode, stopAll, str, text, waitFor } from './helpers.ts'

afterEach(stopAll)

/**
 * `outsider` keeps dialling `a`; once it has failed, a message published on the mesh reaches
 * the insider `b` (the barrier that proves gossip flowed) but not the outsider.
 */
async function assertShutOut(a: MeshNode, b: MeshNode, outsider: MeshNode): Promise<void> {
  const insider: string[] = []
  const leaked: string[] = []
  b.subscribe('control', (_f, m) => insider.push(str(m)))
  outsider.subscribe('control', (_f, m) => leaked.push(str(m)))
  await waitFor(() => outsider.stats().dialFailures >= 1, 'the outsider failed to connect')
  await a.waitForTopicPeers('control', 1, 10_000)
  await a.publish('control', text('start the run'))
  await waitFor(() => insider.length === 1, 'the insider got the message')
  assert.deepEqual(outsider.connectedPeers(), [])
  assert.ok(!a.connectedPeers().includes(outsider.peerId))
  assert.deepEqual(a.topicPeers('control'), [b.peerId])
  assert.deepEqual(leaked, [])
}

test('a node with another swarm key cannot connect or receive', async () => {
  const key = generateSwarmKey()
  const a = await makeNode({ swarmKey: key })
  const b = await makeNode({ swarmKey: key, seeds: [hostPort(a)] })
  const outsider = await makeNode({ swarmKey: generateSwarmKey(), seeds: [hostPort(a)], dialTimeoutMs: 1000 })
  await assertShutOut(a, b, outsider)
})

test('a node without a swarm key cannot join a protected mesh', async () => {
  const key = generateSwarmKey()
  const a = await makeNode({ swarmKey: key })
  const b = await makeNode({ swarmKey: key, seeds: [hostPort(a)] })
  const outsider = await makeNode({ seeds: [hostPort(a)], dialTimeoutMs: 1000 })
  await assertShutOut(a, b, outsider)
})

test('a node with a swarm key does not join an insecure mesh either', async () => {
  const a = await makeNode()
  const b = await makeNode({ seeds: [hostPort(a)] })
  const outsider = await makeNode({ swarmKey: generateSwarmKey(), seeds: [hostPort(a)], dialTimeoutMs: 1000 })
  await assertShutOut(a, b, outsider)
})

test('insecure nodes (no swarm key) mesh with each other and warn about it', async () => {
  const warnings: string[] = []
  const logger = { debug: () => {}, info: () => {}, warn: (_f: Record<string, unknown>, m: string) => { warnings.push(m) } }
  const a = await makeNode({ logger })
  const b = await makeNode({ seeds: [hostPort(a)] })
  const c = await makeNode({ seeds: [hostPort(b)] })
  const got: string[] = []
  c.subscribe('state', (from, m) => got.push(`${from === a.peerId ? 'a' : '?'}:${str(m)}`))
  await waitFor(() => fullyConnected([a, b, c]), 'full mesh')
  await a.waitForTopicPeers('state', 1, 10_000)
  await a.publish('state', text('hi'))
  await waitFor(() => got.length === 1, 'c got it')
  assert.deepEqual(got, ['a:hi'])
  assert.ok(warnings.some((w) => /no swarm key/.test(w)))
})
