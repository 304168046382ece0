/**
 * Measures mesh convergence in one process on 127.0.0.1 (not a test; run by hand):
 *
 *   cd /work/main && pnpm exec node packages/mesh/test/convergence-bench.ts [sizes=8,16] [runs=3]
 *
 * For each size N and seeding (every node knows only node 0, or nodes 0 and 1):
 *  - connected: from starting the N-1 joiners until every node has a connection to every other;
 *  - heard-all: until every node has received a gossip message from every other (each node
 *    publishes a heartbeat every 100 ms from its start, as membership heartbeats would);
 *  - join-ELU: event-loop utilization of the (shared) process during the join: near 100% means
 *    the join was limited by CPU, not by the protocol;
 *  - sub-seen: the worst of 3 probes of how long after subscribe() on one node every other node
 *    lists it as a subscriber (the wait before a publish is sure to reach it);
 *  - latency: then every node in turn publishes a timestamped message, 40 ms apart, 5 rounds;
 *    gossip latency over all N*(N-1)*5 deliveries, and the delivered fraction.
 * Env: HEARTBEAT_MS (default 1000), GOSSIP_D=D,Dlo,Dhi (default: the package defaults),
 * BENCH_DEBUG=1 for dial and announcement counts.
 */
import { systemClock } from '@loadmesh/clock'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshNode, generateSwarmKey, parseSeeds } from '../src/index.ts'
import type { MeshNode } from '../src/index.ts'
import { fullyConnected, hostPort, waitFor } from './helpers.ts'

const sizes = (process.argv[2] ?? '8,16').split(',').map(Number)
const runs = Number(process.argv[3] ?? 3)
const ROUNDS = 5
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 1000)
const gossip = process.env.GOSSIP_D === undefined ? undefined : (() => {
  const [D, Dlo, Dhi] = process.env.GOSSIP_D.split(',').map(Number)
  return { D, Dlo, Dhi }
})()

interface Result { elu: number, connectedMs: number, heardAllMs: number, subMs: number, p50: number, p99: number, max: number, delivered: number }

async function once(n: number, seedCount: number): Promise<Result> {
  const swarmKey = generateSwarmKey()
  const nodes: MeshNode[] = []
  const timers: NodeJS.Timeout[] = []
  const heard = new Map<string, Set<string>>()
  const latencies: number[] = []
  let phase: 'heartbeat' | 'latency' = 'heartbeat'
  const make = async (seeds: string[]): Promise<MeshNode> => {
    const node = createMeshNode({
      listen: ['/ip4/127.0.0.1/tcp/0'], seeds: parseSeeds(seeds), swarmKey, privateKey: await generateKeyPair('Ed25519'),
      meshName: 'bench', clock: systemClock(), redialIntervalMs: 200, gossip
    })
    heard.set(node.peerId, new Set())
    node.subscribe('state', (from, bytes) => {
      heard.get(node.peerId)?.add(from)
      if (phase === 'latency' && bytes.length === 8) latencies.push(performance.now() - new DataView(bytes.buffer, bytes.byteOffset).getFloat64(0))
    })
    nodes.push(node)
    return node
  }
  try {
    const seedNodes = []
    for (let i = 0; i < seedCount; i++) {
      const s = await make(seedNodes.map(hostPort))
      await s.start()
      seedNodes.push(s)
    }
    const seeds = seedNodes.map(hostPort)
    const t0 = performance.now()
    const elu0 = performance.eventLoopUtilization()
    const joiners = await Promise.all(Array.from({ length: n - seedCount }, async () => await make(seeds)))
    const beat = (node: MeshNode): void => {
      if (phase === 'heartbeat') node.publish('state', new Uint8Array(16)).catch(() => {})
      timers.push(setInterval(() => { if (phase === 'heartbeat') node.publish('state', new Uint8Array(16)).catch(() => {}) }, heartbeatMs))
    }
    seedNodes.forEach(beat)
    await Promise.all(joiners.map(async (j) => { await j.start(); beat(j) }))
    let connectedMs = -1
    let heardAllMs = -1
    await waitFor(() => {
      const now = performance.now() - t0
      if (connectedMs < 0 && fullyConnected(nodes)) connectedMs = now
      if (heardAllMs < 0 && [...heard.values()].every((s) => s.size === n - 1)) heardAllMs = now
      return connectedMs >= 0 && heardAllMs >= 0
    }, `full connectivity and every node heard from every other (n=${n})`, 60_000)
    const elu = performance.eventLoopUtilization(elu0).utilization
    if (process.env.BENCH_DEBUG) {
      const sum = (k: 'dialAttempts' | 'dialFailures' | 'announcesOut' | 'messagesIn' | 'connectedPeers') => nodes.reduce((a, x) => a + x.stats()[k], 0)
      console.error({ dialAttempts: sum('dialAttempts'), dialFailures: sum('dialFailures'), announcesOut: sum('announcesOut'), messagesIn: sum('messagesIn'), connections: sum('connectedPeers') })
    }
    phase = 'latency'
    await new Promise((r) => setTimeout(r, 200))
    // Subscription propagation on an established mesh: from subscribe() on one node until every
    // other node lists it as a subscriber (a message published before that would miss it).
    let subMs = 0
    for (let k = 0; k < 3; k++) {
      const sub = nodes[(k * 5) % n]
      const ts = performance.now()
      sub.subscribe(`probe-${k}`, () => {})
      await waitFor(() => nodes.every((x) => x === sub || x.topicPeers(`probe-${k}`).includes(sub.peerId)), 'subscription seen by all')
      subMs = Math.max(subMs, performance.now() - ts)
    }
    // One message in flight at a time (every node in turn, 40 ms apart): one-hop latency without
    // the queueing that N nodes sharing one CPU would add.
    for (let k = 0; k < ROUNDS; k++) {
      for (const node of nodes) {
        const b = new Uint8Array(8)
        new DataView(b.buffer).setFloat64(0, performance.now())
        await node.publish('state', b)
        await new Promise((r) => setTimeout(r, 40))
      }
    }
    await new Promise((r) => setTimeout(r, 500))
    latencies.sort((a, b) => a - b)
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]
    return { elu, connectedMs, heardAllMs, subMs, p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1], delivered: latencies.length / (n * (n - 1) * ROUNDS) }
  } finally {
    timers.forEach(clearInterval)
    await Promise.all(nodes.map(async (x) => await x.stop()))
  }
}

const f = (x: number): string => x.toFixed(1).padStart(7)
console.log('   n seeds run  connected  heard-all  join-ELU  sub-seen   p50 ms   p99 ms   max ms  delivered')
for (const n of sizes) {
  for (const seedCount of [1, 2]) {
    for (let r = 0; r < runs; r++) {
      const x = await once(n, seedCount)
      console.log(`${String(n).padStart(4)} ${String(seedCount).padStart(5)} ${String(r + 1).padStart(3)}  ${f(x.connectedMs)}ms  ${f(x.heardAllMs)}ms    ${(x.elu * 100).toFixed(0).padStart(3)}%  ${f(x.subMs)}ms ${f(x.p50)}  ${f(x.p99)}  ${f(x.max)}  ${(x.delivered * 100).toFixed(1)}%`)
    }
  }
}
