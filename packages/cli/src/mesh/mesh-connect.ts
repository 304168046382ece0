import { mkdtemp, rm } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseDuration, systemClock } from '@loadmesh/clock'
import { createMeshAgent } from '@loadmesh/agent'
import type { MeshAgent } from '@loadmesh/agent'
import type { MeshLogger, MeshNode } from '@loadmesh/mesh'
import { MeshUnavailableError, UsageError } from '../exit-codes.ts'
import type { FlagValues } from '../plan-file.ts'

export interface MeshSession {
  node: MeshNode
  agent: MeshAgent
  meshName: string
  close(): Promise<void>
}

export interface ConnectOptions {
  role: 'agent' | 'controller'
  logger?: MeshLogger
  weight?: number
  controllers?: string[]
  maxRate?: number
  apiKey?: string
}

export const DEFAULT_AGENT_LISTEN = '/ip4/0.0.0.0/tcp/4001'

/** Membership timing from --heartbeat / --dead-after (suspect at 60% of dead). */
export function meshTiming (v: FlagValues): { heartbeatMs: number; suspectAfterMs: number; deadAfterMs: number } {
  const heartbeatMs = parseDuration((v.heartbeat as string | undefined) ?? '1s', '--heartbeat')
  const deadAfterMs = parseDuration((v['dead-after'] as string | undefined) ?? '5s', '--dead-after')
  if (deadAfterMs < 2 * heartbeatMs) throw new UsageError(`--dead-after (${deadAfterMs} ms) must be at least twice --heartbeat (${heartbeatMs} ms)`)
  return { heartbeatMs, suspectAfterMs: Math.round(deadAfterMs * 0.6), deadAfterMs }
}

/**
 * Starts a mesh node and a mesh agent (agent or controller role) from the mesh flags. libp2p is
 * imported here, lazily, so commands without a mesh never load it.
 */
export async function connectMesh (v: FlagValues, o: ConnectOptions): Promise<MeshSession> {
  const mesh = await import('@loadmesh/mesh')
  const swarmKeyPath = v['swarm-key'] as string | undefined
  if (swarmKeyPath === undefined && v.insecure !== true) {
    throw new UsageError('--swarm-key FILE is required (or --insecure for an open mesh)', 'create a key with `loadmesh keygen --out swarm.key` and give the same file to every peer')
  }
  const swarmKey = swarmKeyPath !== undefined ? await mesh.readSwarmKey(swarmKeyPath) : undefined
  const seeds = mesh.parseSeeds((v.seeds as string | undefined) ?? '')
  const meshName = (v.mesh as string | undefined) ?? 'default'
  const timing = meshTiming(v)
  let tmp: string | undefined
  let identity = v.identity as string | undefined
  if (identity === undefined) {
    if (o.role === 'agent') identity = join(homedir(), '.loadmesh', 'identity')
    else {
      tmp = await mkdtemp(join(tmpdir(), 'loadmesh-ctl-'))
      identity = join(tmp, 'identity')
    }
  }
  const privateKey = await mesh.loadOrCreateIdentity(identity)
  const listen = (v.listen as string | undefined) ?? (o.role === 'agent' ? DEFAULT_AGENT_LISTEN : '/ip4/0.0.0.0/tcp/0')
  const clock = systemClock()
  const node = mesh.createMeshNode({
    listen: listen.split(',').filter((s) => s !== ''),
    seeds,
    swarmKey,
    privateKey,
    meshName,
    clock,
    logger: o.logger,
    redialIntervalMs: Math.min(1000, timing.heartbeatMs)
  })
  await node.start()
  const agent = createMeshAgent({
    node, clock, meshName, role: o.role, logger: o.logger, weight: o.weight, controllers: o.controllers, maxRate: o.maxRate, apiKey: o.apiKey, ...timing
  })
  await agent.start()
  return {
    node,
    agent,
    meshName,
    async close () {
      await agent.stop()
      await node.stop()
      if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
    }
  }
}

/** Resolves once `n` agents are alive in this peer's view; exit 5 after `timeoutMs`. */
export async function waitForAgents (s: MeshSession, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const alive = s.agent.membership().live().filter((m) => m.role === 'agent' && m.state === 'alive').length
    if (alive >= n && s.node.topicPeers('control').length > 0) return
    if (Date.now() > deadline) {
      throw new MeshUnavailableError(`only ${alive} agent(s) alive after ${timeoutMs} ms, ${n} needed (connected to ${s.node.connectedPeers().length} peer(s))`,
        'check --seeds, --swarm-key and --mesh match the agents\', or lower --min-agents / raise --wait')
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Lets a freshly joined peer hear every member's heartbeat before it reports on the mesh. */
export async function settle (s: MeshSession, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = -1
  let stableSince = Date.now()
  while (Date.now() < deadline) {
    const n = s.agent.membership().live().length
    if (n !== last) { last = n; stableSince = Date.now() }
    if (n > 1 && Date.now() - stableSince >= 1500) return
    await new Promise((r) => setTimeout(r, 100))
  }
  if (last <= 1) throw new MeshUnavailableError(`no peer answered within ${timeoutMs} ms (connected to ${s.node.connectedPeers().length} peer(s))`, 'check --seeds, --swarm-key and --mesh')
}

export function intFlag (v: FlagValues, name: string, def: number): number {
  const text = v[name] as string | undefined
  if (text === undefined) return def
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name}: "${text}" is not a positive integer`)
  return n
}
