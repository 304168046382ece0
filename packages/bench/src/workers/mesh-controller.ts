// The controller side of the mesh suite (suites/mesh.ts): a controller peer in its own process
// joins N `loadmesh agent` processes, then runs short plans on them and measures what the mesh
// itself costs: start skew, reconcile time and gossip bytes. The agents' own numbers come from their
// Prometheus endpoints, so the agents run exactly as users run them.
import { systemClock } from '@loadmesh/clock'
import { createMeshAgent } from '@loadmesh/agent'
import type { MeshAgent, RunConfig } from '@loadmesh/agent'
import { createMeshNode, loadOrCreateIdentity, parseSeeds, readSwarmKey } from '@loadmesh/mesh'
import { readFileSync } from 'node:fs'
import { parseLengthSpec } from '@loadmesh/workload'
import { parseProcPidStat } from '../core-usage.ts'
import { workerMain } from '../worker-protocol.ts'

export interface MeshControllerConfig {
  deadlineMs: number
  swarmKeyPath: string
  identityPath: string
  mesh: string
  seeds: string[]
  /** Agent peer id → its Prometheus URL. */
  agents: Record<string, string>
  /** The agents' process ids, for their CPU time (/proc). */
  pids: number[]
  repetitions: number
  ratePerAgent: number
  stageMs: number
  startInMs: number
  idleMs: number
  target: string
}

export interface MeshRepetition {
  /** Per agent: first request after T0 on its clock, minus its clock offset from the controller, ms. */
  skew_ms: number[]
  /** The same on each agent's own clock, uncorrected (on one host the clocks are the same clock). */
  own_clock_skew_ms: number[]
  /** Largest |clock offset| the controller measured, ms. */
  max_offset_ms: number
  reconcile_ms: number
  /** Peers that answered the reconcile request. */
  answered: number
  /** Gossip payload bytes in + out per agent per second, from publishing the plan to the run's end. */
  gossip_bytes_per_s: number
  /** Mean CPU seconds per agent per second over the same span (null without /proc). */
  cpu_per_agent: number | null
  completed: number
  coverage_complete: boolean
}

export interface MeshControllerResult {
  /** From the controller's start until it saw every agent alive, ms. */
  joined_ms: number
  idle_gossip_bytes_per_s: number
  /** Mean CPU seconds per agent per second while the mesh was idle (null without /proc). */
  idle_cpu_per_agent: number | null
  repetitions: MeshRepetition[]
  /** Agents whose start was not measured in some repetition, and why. */
  problems: string[]
}

type Scrape = Map<string, number>

/** CPU seconds (user + system) of each process, null where /proc cannot tell. */
function cpuSeconds(pids: readonly number[]): Array<number | null> {
  return pids.map((pid) => {
    try {
      const ticks = parseProcPidStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
      return ticks === null ? null : ticks / 100 // USER_HZ
    } catch {
      return null
    }
  })
}

/** Mean over processes of CPU seconds per second between two readings. */
function cpuRate(a: Array<number | null>, b: Array<number | null>, seconds: number): number | null {
  const per: number[] = []
  a.forEach((x, i) => { const y = b[i]; if (x !== null && y !== null && y !== undefined) per.push((y - x) / seconds) })
  return per.length === 0 || seconds <= 0 ? null : per.reduce((s, v) => s + v, 0) / per.length
}

/** The samples of a Prometheus text page, keyed by name{labels} as written. */
async function scrape(url: string): Promise<Scrape> {
  // 16 agents on 2 cores can keep an agent's event loop busy for seconds: a slow page is waited for.
  const text = await (await fetch(url, { signal: AbortSignal.timeout(20_000) })).text()
  const out: Scrape = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** Every agent's page; one that does not answer is left out (and named in `problems`). */
async function scrapeAll(agents: Record<string, string>, problems: string[]): Promise<Map<string, Scrape>> {
  const pages = await Promise.all(Object.entries(agents).map(async ([peer, url]) => {
    try {
      return [[peer, await scrape(url)] as const]
    } catch (err) {
      problems.push(`${peer}: /metrics did not answer: ${(err as Error).message}`)
      return []
    }
  }))
  return new Map(pages.flat())
}

/** Mean over agents of gossip bytes (in + out) per second between two scrapes. */
function gossipRate(a: Map<string, Scrape>, b: Map<string, Scrape>, seconds: number): number {
  const bytes = (s: Scrape | undefined): number => (s?.get('loadmesh_gossip_bytes_in_total') ?? 0) + (s?.get('loadmesh_gossip_bytes_out_total') ?? 0)
  let sum = 0
  let peers = 0
  for (const [peer, s] of b) {
    if (!a.has(peer)) continue
    sum += bytes(s) - bytes(a.get(peer))
    peers++
  }
  return peers > 0 && seconds > 0 ? sum / peers / seconds : 0
}

async function waitUntil(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function config(c: MeshControllerConfig, agents: number, rep: number): RunConfig {
  return {
    target: c.target,
    model: 'loadmesh-sim',
    endpoint: '/v1/chat/completions',
    duration_ms: c.stageMs,
    mode: 'open',
    rate: c.ratePerAgent * agents,
    concurrency: null,
    // Constant arrivals: every agent's first request is due exactly at the start of its share.
    arrival: 'constant',
    burstiness: 1,
    input_tokens: parseLengthSpec('fixed:16'),
    output_tokens: parseLengthSpec('fixed:4'),
    stream: true,
    ignore_eos: false,
    seed: `mesh-bench-${rep}`,
    slo: {},
    max_in_flight: 1000,
    timeout_ms: 10_000,
    connections: 4,
    max_error_rate: 0,
    fail_on_slo: false
  }
}

async function repetition(c: MeshControllerConfig, agent: MeshAgent, n: number, rep: number, problems: string[]): Promise<MeshRepetition> {
  const before = await scrapeAll(c.agents, problems)
  const cpu0 = cpuSeconds(c.pids)
  const t0 = performance.now()
  const plan = await agent.publishPlan(config(c, n, rep), { startInMs: c.startInMs })
  try {
    await agent.waitForRun(plan.run_id, { timeoutMs: c.startInMs + c.stageMs + 20_000 })
  } catch (err) {
    // Gossip did not bring every agent's last windows: the reconcile below pulls them directly,
    // and its coverage says whether it got them all.
    const st = agent.stats()
    problems.push(`repetition ${rep + 1}: ${(err as Error).message.slice(0, 300)} (controller: ${st.resultsIn} results deltas in, rejected ${JSON.stringify(st.rejected)})`)
  }
  const cpu = cpuRate(cpu0, cpuSeconds(c.pids), (performance.now() - t0) / 1000)
  const after = await scrapeAll(c.agents, problems)
  const gossip = gossipRate(before, after, (performance.now() - t0) / 1000)
  const r0 = performance.now()
  const report = await agent.reconcile(plan.run_id, { timeoutMs: 5000 })
  const reconcileMs = performance.now() - r0
  const skew: number[] = []
  const own: number[] = []
  let maxOffset = 0
  for (const [peer, page] of after) {
    const first = page.get(`loadmesh_run_first_send_after_t0_ms{run_id="${plan.run_id}"}`)
    const offset = agent.clockOffsets().offset(peer)
    if (first === undefined || offset === null) {
      problems.push(`repetition ${rep + 1}: ${peer} ${first === undefined ? 'reported no first send' : 'has no clock offset'}`)
      continue
    }
    // The shortest-round-trip sample of the tightest probe round: its error is at most
    // offset.error_ms (half that round trip, plus drift since), whatever the paths' asymmetry.
    maxOffset = Math.max(maxOffset, Math.abs(offset.best_offset_ms))
    skew.push(first - offset.best_offset_ms)
    own.push(first)
  }
  return {
    skew_ms: skew,
    own_clock_skew_ms: own,
    max_offset_ms: maxOffset,
    reconcile_ms: reconcileMs,
    answered: report.reconcile.answered.length,
    gossip_bytes_per_s: gossip,
    cpu_per_agent: cpu,
    completed: report.requests.completed,
    coverage_complete: report.coverage.complete
  }
}

workerMain<MeshControllerConfig>(async (c) => {
  const n = Object.keys(c.agents).length
  const clock = systemClock()
  const node = createMeshNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    seeds: parseSeeds(c.seeds.join(',')),
    swarmKey: await readSwarmKey(c.swarmKeyPath),
    privateKey: await loadOrCreateIdentity(c.identityPath),
    meshName: c.mesh,
    clock,
    redialIntervalMs: 1000
  })
  const start = performance.now()
  await node.start()
  const agent = createMeshAgent({ node, clock, meshName: c.mesh, role: 'controller' })
  await agent.start()
  try {
    const agentsAlive = (): number => agent.membership().live().filter((m) => m.role === 'agent' && m.state === 'alive').length
    await waitUntil(() => agentsAlive() >= n && node.topicPeers('control').length > 0, `${n} agents alive`, 60_000)
    const joinedMs = performance.now() - start
    // Each agent's clock is probed as soon as it joins (a direct stream, a few ms); a start skew
    // is corrected with the offsets, so wait for every agent's.
    await waitUntil(() => Object.keys(c.agents).every((p) => agent.clockOffsets().offset(p) !== null), 'a clock offset for every agent', 15_000)
    const problems: string[] = []
    const idle0 = await scrapeAll(c.agents, problems)
    const idleCpu0 = cpuSeconds(c.pids)
    const i0 = performance.now()
    await new Promise((r) => setTimeout(r, c.idleMs))
    const idleCpu = cpuRate(idleCpu0, cpuSeconds(c.pids), (performance.now() - i0) / 1000)
    const idle = gossipRate(idle0, await scrapeAll(c.agents, problems), (performance.now() - i0) / 1000)
    const repetitions: MeshRepetition[] = []
    for (let rep = 0; rep < c.repetitions; rep++) repetitions.push(await repetition(c, agent, n, rep, problems))
    const result: MeshControllerResult = { joined_ms: joinedMs, idle_gossip_bytes_per_s: idle, idle_cpu_per_agent: idleCpu, repetitions, problems }
    return result
  } finally {
    await agent.stop()
    await node.stop()
  }
})
