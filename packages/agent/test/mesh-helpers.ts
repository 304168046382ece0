import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '@loadmesh/clock'
import { createMeshNode, generateSwarmKey, loadOrCreateIdentity, parseSeeds } from '@loadmesh/mesh'
import type { MeshNode, MeshNodeOptions } from '@loadmesh/mesh'
import { createSimulator } from '@loadmesh/simulator'
import type { Simulator } from '@loadmesh/simulator'
import { parseDurationSpec, parseLengthSpec } from '@loadmesh/workload'
import { createMeshAgent } from '../src/index.ts'
import type { MeshAgent, MeshAgentOptions, RunConfig } from '../src/index.ts'

export const MESH = 'test'
/** Fast membership for tests: a killed agent is dead after 2 s instead of 5 s. */
export const FAST = { heartbeatMs: 250, suspectAfterMs: 1000, deadAfterMs: 2000 }

/** Owns everything a test creates, so one `close()` in an after hook releases it all. */
export interface TestMesh {
  swarmKey: string
  node(options?: Partial<MeshNodeOptions>): Promise<MeshNode>
  agent(node: MeshNode, options: Partial<MeshAgentOptions> & Pick<MeshAgentOptions, 'role'>): Promise<MeshAgent>
  simulator(): Promise<string>
  /** Seed address of the first node. */
  seed(): string
  close(): Promise<void>
}

export async function createTestMesh(): Promise<TestMesh> {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-agent-'))
  const swarmKey = generateSwarmKey()
  const nodes: MeshNode[] = []
  const agents: MeshAgent[] = []
  const sims: Simulator[] = []
  let n = 0
  const mesh: TestMesh = {
    swarmKey,
    async node(options = {}) {
      const seeds = nodes.length > 0 ? [mesh.seed()] : []
      const node = createMeshNode({
        listen: ['/ip4/127.0.0.1/tcp/0'],
        seeds: parseSeeds(seeds),
        swarmKey,
        privateKey: await loadOrCreateIdentity(join(dir, `key-${n++}`)),
        meshName: MESH,
        clock: systemClock(),
        redialIntervalMs: 200,
        ...options
      })
      nodes.push(node)
      await node.start()
      return node
    },
    async agent(node, options) {
      const agent = createMeshAgent({ node, clock: systemClock(), meshName: MESH, ...FAST, ...options })
      agents.push(agent)
      await agent.start()
      return agent
    },
    async simulator() {
      const sim = createSimulator({ seed: 1, engine: { ttft: parseDurationSpec('10ms'), itl: parseDurationSpec('2ms') } })
      sims.push(sim)
      return (await sim.start()).url
    },
    seed() {
      const addr = nodes[0].addresses().find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))
      if (addr === undefined) throw new Error('first node has no 127.0.0.1 address')
      return `127.0.0.1:${addr.split('/')[4]}`
    },
    async close() {
      await Promise.all(agents.map(async (a) => await a.stop()))
      await Promise.all(nodes.map(async (x) => await x.stop()))
      await Promise.all(sims.map(async (s) => await s.stop()))
      await rm(dir, { recursive: true, force: true })
    }
  }
  return mesh
}

export function runConfig(target: string, over: Partial<RunConfig> = {}): RunConfig {
  return {
    target,
    model: 'loadmesh-sim',
    endpoint: '/v1/chat/completions',
    duration_ms: 4000,
    mode: 'open',
    rate: 60,
    concurrency: null,
    // Constant arrivals make the expected counts exact (R × D per agent), so the assertions test
    // the sharing, not the luck of a Poisson draw.
    arrival: 'constant',
    burstiness: 1,
    input_tokens: parseLengthSpec('fixed:32'),
    output_tokens: parseLengthSpec('fixed:8'),
    stream: true,
    ignore_eos: false,
    seed: '42',
    slo: {},
    max_in_flight: 1000,
    timeout_ms: 10_000,
    connections: 16,
    max_error_rate: 0,
    fail_on_slo: false,
    ...over
  }
}

/** Polls `cond` every 20 ms; fails naming `what` after `timeoutMs` (a liveness bound, not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A controller and `n` agents that take plans only from it, each on its own node (`nodes[i]` is agent i's), once every peer sees all `n` agents. */
export async function controllerAndAgents(mesh: TestMesh, n: number): Promise<{ ctlNode: MeshNode; controller: MeshAgent; agents: MeshAgent[]; nodes: MeshNode[] }> {
  const ctlNode = await mesh.node()
  const controller = await mesh.agent(ctlNode, { role: 'controller' })
  const nodes: MeshNode[] = []
  const agents: MeshAgent[] = []
  for (let i = 0; i < n; i++) {
    const node = await mesh.node()
    nodes.push(node)
    agents.push(await mesh.agent(node, { role: 'agent', controllers: [ctlNode.peerId] }))
  }
  await waitFor(() => [controller, ...agents].every((a) => liveAgents(a) === n), `every peer sees ${n} agents`)
  return { ctlNode, controller, agents, nodes }
}

export function liveAgents(a: MeshAgent): number {
  return a.membership().live().filter((m) => m.role === 'agent').length
}
