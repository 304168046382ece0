import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mergeBreakdowns } from '@loadmesh/metrics'
import type { BreakdownSnapshot } from '@loadmesh/metrics'
import { parseAdversarialSpec } from '@loadmesh/workload'
import { encodeEnvelope, encodeReconcileResponse, reconcileProtocol } from '@loadmesh/protocol'
import type { Heartbeat } from '@loadmesh/protocol'
import { MESH, createTestMesh, liveAgents, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'
import type { MeshAgent } from '../src/index.ts'

let mesh: TestMesh | undefined
let controller: MeshAgent | undefined
after(async () => { await mesh?.close() })

test('a mesh report breaks results down per endpoint and adversarial kind, merged over both agents', async () => {
  mesh = await createTestMesh()
  const target = await mesh.simulator()
  const ctlNode = await mesh.node()
  controller = await mesh.agent(ctlNode, { role: 'controller' })
  const agents: MeshAgent[] = []
  for (let i = 0; i < 2; i++) agents.push(await mesh.agent(await mesh.node(), { role: 'agent', controllers: [ctlNode.peerId] }))
  const everyone = [controller, ...agents]
  await waitFor(() => everyone.every((a) => liveAgents(a) === 2 && a.membership().live().length === 3), 'every peer sees 2 agents and the controller')

  const config = runConfig(target, {
    duration_ms: 3000,
    rate: 40,
    endpoint_mix: [{ endpoint: '/v1/chat/completions', weight: 2 }, { endpoint: '/v1/embeddings', weight: 1 }],
    adversarial: parseAdversarialSpec('0.2,kinds=bidi+empty+zero-width')
  })
  const plan = await controller.publishPlan(config, { startInMs: 2000 })
  const done = await controller.waitForRun(plan.run_id, { timeoutMs: 20_000 })
  assert.equal(done.state, 'finished')
  await waitFor(() => agents.every((a) => a.currentRun()?.status().phase === 'done'), 'both agents finished the run')

  const report = await controller.reconcile(plan.run_id, { timeoutMs: 5000 })
  const own: BreakdownSnapshot[] = agents.map((a) => {
    const s = a.currentRun()?.breakdownSnapshot() ?? null
    assert.ok(s !== null, `agent ${a.peerId} keeps a breakdown`)
    return s
  })
  const finished = report.requests.completed + report.requests.failed
  assert.ok(finished >= 100, `finished ${finished}`)

  const byEndpoint = report.breakdown?.endpoint
  assert.ok(byEndpoint !== undefined, 'the mesh report has a per-endpoint section')
  assert.deepEqual(Object.keys(byEndpoint).sort(), ['/v1/chat/completions', '/v1/embeddings'])
  const sum = (section: Record<string, { requests: { completed: number; failed: number } }>): number =>
    Object.values(section).reduce((n, e) => n + e.requests.completed + e.requests.failed, 0)
  // Per-endpoint counts add up to the merged total, and each equals the sum of the agents' own.
  assert.equal(sum(byEndpoint), finished)
  for (const [ep, e] of Object.entries(byEndpoint)) {
    const mine = own.reduce((n, s) => n + (s.breakdown.dimensions.endpoint?.[ep]?.completed ?? 0), 0)
    assert.equal(e.requests.completed, mine, `completed on ${ep}`)
  }
  const byKind = report.breakdown?.adversarial
  assert.ok(byKind !== undefined, 'the mesh report has a per-adversarial-kind section')
  assert.equal(sum(byKind), finished)
  assert.ok(byKind.none !== undefined && byKind.none.requests.completed > 0)
  assert.ok(Object.keys(byKind).length >= 3, `kinds: ${Object.keys(byKind).join(', ')}`)
  // Merging the agents' own snapshots gives exactly the report's histograms.
  const merged = mergeBreakdowns(own.map((s) => s.breakdown))
  for (const [kind, e] of Object.entries(byKind)) {
    const m = merged.dimensions.adversarial?.[kind]
    assert.ok(m !== undefined)
    assert.equal(e.requests.completed, m.completed, `completed of ${kind}`)
    assert.equal(e.latency_ms.e2e.count, m.histograms.e2e?.totalCount ?? 0, `e2e count of ${kind}`)
  }
  const cov = report.breakdown_coverage
  assert.ok(cov !== undefined)
  assert.equal(cov.complete, true, cov.text)
  assert.deepEqual(cov.peers.map((p) => p.peer_id), agents.map((a) => a.peerId).sort())
  assert.ok(cov.peers.every((p) => p.status === 'complete' && p.final), JSON.stringify(cov.peers))
  assert.equal(cov.finished_covered, finished)

  // Another peer's reconcile brings the same merged breakdown.
  const viaAgent = await agents[0].reconcile(plan.run_id, { timeoutMs: 5000 })
  assert.deepEqual(viaAgent.breakdown, report.breakdown)
  assert.equal(controller.stats().rejected['bad-breakdown'], undefined)
})

test('a peer answering a reconcile with a garbage breakdown: dropped and counted, the report is still built', async () => {
  assert.ok(mesh !== undefined && controller !== undefined, 'runs after the first test')
  const ctl = controller
  const liar = await mesh.node()
  liar.handleStream(reconcileProtocol(MESH), async (_from, _bytes) => encodeReconcileResponse({
    run_id: 'run-x',
    responder: liar.peerId,
    peers: [{ peer_id: liar.peerId, windows: [], live: true, breakdown: new TextEncoder().encode('{"v":1,"finished":"lots"}') }]
  }))
  // Heartbeats make it a live member, so the controller asks it for its own results.
  let seq = 0
  const beat = async (): Promise<void> => {
    const hb: Heartbeat = {
      peer_id: liar.peerId, role: 'agent', weight: 1, seq: ++seq, wall_ms: Date.now(), run_id: '', epoch: 0, plan_id: '', plan_stamp: 0,
      achieved_rate: 0, in_flight: 0, sent: 0, completed: 0, failed: 0, dropped: 0, loop_delay_p99_ms: 0, degraded: false, max_rate: 0,
      listen_addrs: []
    }
    await liar.publish('state', encodeEnvelope({ mesh: MESH, body: { type: 'heartbeat', heartbeat: hb } })).catch(() => {})
  }
  await liar.waitForTopicPeers('state', 1, 10_000)
  await waitFor(() => { void beat(); return ctl.membership().member(liar.peerId)?.state === 'alive' }, 'the controller sees the fake peer alive')
  const report = await ctl.reconcile('run-x', { timeoutMs: 5000 })
  assert.ok(report.reconcile.answered.includes(liar.peerId), JSON.stringify(report.reconcile))
  assert.equal(ctl.stats().rejected['bad-breakdown'], 1)
  assert.equal(report.breakdown, undefined)
  assert.equal(report.breakdown_coverage, undefined)
})
