import { generateKeyPair } from '@libp2p/crypto/keys'
import { systemClock } from '@loadmesh/clock'
import type { Clock } from '@loadmesh/clock'
import { createMeshNode, parseSeeds } from '../src/index.ts'
import type { MeshNode, MeshNodeOptions } from '../src/index.ts'

/** Nodes created through `makeNode` are remembered here so `stopAll` can close them after a test. */
const live = new Set<MeshNode>()

export interface TestNodeOptions extends Partial<Omit<MeshNodeOptions, 'seeds'>> {
  seeds?: string[]
  clock?: Clock
}

export async function makeNode(options: TestNodeOptions = {}): Promise<MeshNode> {
  const { seeds, ...rest } = options
  const node = createMeshNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    privateKey: await generateKeyPair('Ed25519'),
    meshName: 'test',
    clock: systemClock(),
    redialIntervalMs: 200,
    ...rest,
    seeds: parseSeeds(seeds ?? [])
  })
  live.add(node)
  await node.start()
  return node
}

/** `127.0.0.1:<port>`: a seed without a peer id, as a Kubernetes service name would be. */
export function hostPort(node: MeshNode): string {
  const addr = node.addresses().find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))
  if (addr === undefined) throw new Error(`node ${node.peerId} has no 127.0.0.1 address`)
  return `127.0.0.1:${addr.split('/')[4]}`
}

export async function stopAll(): Promise<void> {
  const nodes = [...live]
  live.clear()
  await Promise.all(nodes.map(async (n) => await n.stop()))
}

/** Polls `cond` every 10 ms; fails with `what` after `timeoutMs` (generous: this is a liveness bound). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export function fullyConnected(nodes: MeshNode[]): boolean {
  return nodes.every((n) => {
    const peers = new Set(n.connectedPeers())
    return nodes.every((m) => m === n || peers.has(m.peerId))
  })
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const str = (b: Uint8Array): string => new TextDecoder().decode(b)
