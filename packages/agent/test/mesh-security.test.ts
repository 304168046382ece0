import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createRunRecorder } from '@loadmesh/metrics'
import { createMeshNode, loadOrCreateIdentity, parseSeeds } from '@loadmesh/mesh'
import { systemClock } from '@loadmesh/clock'
import { decodeReconcileResponse, encodeCommand, encodeEnvelope, encodeReconcileRequest, reconcileProtocol, signingBytes, windowToWire } from '@loadmesh/protocol'
import type { Command, RunPlan } from '@loadmesh/protocol'
import type { MeshNode } from '@loadmesh/mesh'
import { MESH, createTestMesh, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'
import type { MeshAgent } from '../src/index.ts'

let mesh: TestMesh
let agent: MeshAgent
let controller: MeshAgent
let stranger: MeshNode
let ctlNode: MeshNode
let target: string

before(async () => {
  mesh = await createTestMesh()
  target = await mesh.simulator()
  ctlNode = await mesh.node()
  controller = await mesh.agent(ctlNode, { role: 'controller' })
  agent = await mesh.agent(await mesh.node(), { role: 'agent', controllers: [ctlNode.peerId] })
  // A swarm member that is not an allowed controller (it has the swarm key, not the controller key).
  stranger = await mesh.node({ maxGossipBytes: 1024 * 1024 })
  await waitFor(() => agent.membership().live().length === 2, 'agent sees the controller')
  await stranger.waitForTopicPeers('control', 2, 10_000)
  await stranger.waitForTopicPeers('state', 2, 10_000)
})
after(async () => { await mesh.close() })

function plan(over: Partial<RunPlan> = {}): RunPlan {
  return {
    run_id: randomUUID(),
    seed: '1',
    start_wall_ms: Date.now() + 60_000,
    stages: [{ duration_ms: 1000, rate: 1, concurrency: 0 }],
    config_json: JSON.stringify(runConfig(target, { duration_ms: 1000, rate: 1 })),
    target_allow: [new URL(target).origin],
    ...over
  }
}

function command(issuer: string, p: RunPlan): Command {
  return { lamport: 100, id: randomUUID(), issuer, mesh: MESH, body: { type: 'plan', plan: p } }
}

async function publishSigned(node: MeshNode, c: Command, tamper?: (sig: Uint8Array) => Uint8Array): Promise<void> {
  const payload = encodeCommand(c)
  let signature = await node.sign(signingBytes(payload))
  if (tamper !== undefined) signature = tamper(signature)
  await node.publish('control', encodeEnvelope({ mesh: MESH, body: { type: 'command', command: { payload, public_key: node.publicKey(), signature } } }))
}

const rejected = (reason: string): number => agent.stats().rejected[reason] ?? 0

test('a plan signed by a swarm member that is not an allowed controller is rejected and counted', async () => {
  await publishSigned(stranger, command(stranger.peerId, plan()))
  await waitFor(() => rejected('not-controller') === 1, 'the stranger plan is counted as not-controller')
  assert.equal(agent.plans().current(), null, 'no plan was adopted')
})

test('a command claiming the controller as issuer but signed by another key is rejected', async () => {
  const controllerId = controller.peerId
  await publishSigned(stranger, command(controllerId, plan()))
  await waitFor(() => rejected('issuer-mismatch') === 1, 'issuer mismatch counted')
  // A forged signature (one bit flipped) over a genuine controller-issued payload.
  await publishSigned(stranger, command(stranger.peerId, plan()), (s) => { const x = new Uint8Array(s); x[0] ^= 1; return x })
  await waitFor(() => rejected('bad-signature') === 1, 'bad signature counted')
  assert.equal(agent.plans().current(), null)
})

test('malformed and oversized messages are dropped and counted; the agent keeps working', async () => {
  await stranger.publish('control', new Uint8Array([0xff, 0x01, 0x02, 0x03, 0x99]))
  await stranger.publish('results', new TextEncoder().encode('not a protobuf at all'))
  await waitFor(() => rejected('malformed') >= 2, 'two malformed messages counted')
  // Over the 64 KiB gossip limit of the receivers: dropped by the node before the agent sees it.
  await stranger.publish('state', new Uint8Array(100 * 1024))
  await waitFor(() => rejected('gossip-oversize') >= 1, 'oversized gossip counted')
  // Still alive: it keeps hearing the controller and publishing heartbeats.
  const before = agent.stats().heartbeatsIn
  await waitFor(() => agent.stats().heartbeatsIn > before, 'heartbeats still flow')
})

test('a plan whose target is outside its allow-list is refused, and the refusal is reported', async () => {
  const p = await controller.publishPlan(runConfig(target, { duration_ms: 1000, rate: 1 }), {
    startInMs: 30_000, targetAllow: ['http://127.0.0.1:1']
  })
  await waitFor(() => agent.stats().refusals.length === 1, 'refusal recorded')
  assert.equal(agent.stats().refusals[0].run_id, p.run_id)
  assert.match(agent.stats().refusals[0].reason, /not in the plan's target_allow/)
  assert.equal(rejected('target-not-allowed'), 1)
  assert.equal(agent.currentRun(), null, 'nothing runs')
  // The plan itself was genuine: it is adopted (so a later stop applies), just not executed here.
  assert.equal(agent.plans().current()?.run_id, p.run_id)
  // Its heartbeats say so: the controller shows why the agent is idle.
  await waitFor(() => controller.status().some((m) => m.peer_id === agent.peerId && m.refused?.run_id === p.run_id), 'the controller sees the refusal')
  const seen = controller.status().find((m) => m.peer_id === agent.peerId)
  assert.match(seen?.refused?.reason ?? '', /http:\/\/127\.0\.0\.1:1/)
  assert.match(seen?.note ?? '', new RegExp(`^refused run ${p.run_id}: `))
})

test('a results delta for another peer than its gossip sender is rejected and counted; its own is kept', async () => {
  const rec = createRunRecorder({ startAt: 0, windowMs: 1000, slo: {} })
  rec.onScheduled(10)
  rec.onDropped(10)
  const windows = rec.windows(5000).map(windowToWire)
  const runId = randomUUID()
  const before = agent.stats().resultsIn
  // The stranger claims to publish the controller's windows: they would overwrite the controller's.
  await stranger.publish('results', encodeEnvelope({ mesh: MESH, body: { type: 'results', results: { run_id: runId, peer_id: controller.peerId, windows } } }))
  await waitFor(() => rejected('spoofed-results') === 1, 'spoofed delta counted')
  assert.deepEqual(agent.results().peers(runId), [])
  await stranger.publish('results', encodeEnvelope({ mesh: MESH, body: { type: 'results', results: { run_id: runId, peer_id: stranger.peerId, windows } } }))
  await waitFor(() => agent.results().peers(runId).length === 1, 'own delta stored')
  assert.deepEqual(agent.results().peers(runId), [stranger.peerId])
  assert.equal(agent.stats().resultsIn, before + 1)
})

test('the reconcile protocol carries the mesh name: a peer of another mesh with the same swarm key gets no answer', async () => {
  const other = createMeshNode({
    listen: ['/ip4/127.0.0.1/tcp/0'], seeds: parseSeeds([mesh.seed()]), swarmKey: mesh.swarmKey,
    privateKey: await loadOrCreateIdentity(`${process.env.TMPDIR ?? '/tmp'}/loadmesh-other-${randomUUID()}`),
    meshName: 'other', clock: systemClock(), redialIntervalMs: 200
  })
  await other.start()
  try {
    const request = encodeReconcileRequest({ run_id: 'any', peers: [] })
    // Its seed is the controller's node: connected (same swarm key), but in another mesh.
    await waitFor(() => other.connectedPeers().includes(ctlNode.peerId), 'the other mesh\'s node is connected to the seed')
    await assert.rejects(other.request(ctlNode.peerId, reconcileProtocol('other'), request, { timeoutMs: 5000 }), (err: Error) => {
      assert.equal(err.name, 'RequestFailedError')
      assert.match(err.message, /protocol/i)
      return true
    })
    // The same request under this mesh's id is answered (the swarm key is the same, after all).
    const r = decodeReconcileResponse(await other.request(ctlNode.peerId, reconcileProtocol(MESH), request, { timeoutMs: 5000 }))
    assert.equal(r.ok && r.value.responder, ctlNode.peerId)
  } finally {
    await other.stop()
  }
})

test('a genuine plan whose config_json is not a valid RunConfig is refused and counted', async () => {
  const bad = plan({ config_json: JSON.stringify({ ...runConfig(target), rate: -5 }) })
  await publishSigned(ctlNode, { ...command(ctlNode.peerId, bad), lamport: 10_000 })
  await waitFor(() => agent.stats().refusals.some((r) => r.run_id === bad.run_id), 'bad config refused')
  assert.equal(rejected('bad-config'), 1)
  assert.match(agent.stats().refusals.find((r) => r.run_id === bad.run_id)?.reason ?? '', /--rate: must be a positive number/)
  assert.equal(agent.currentRun(), null)
})

test('a plan whose replay log or workload model this agent cannot read is refused in its heartbeat, not run and not fatal', async () => {
  const missing = `/nonexistent/loadmesh-${randomUUID()}`
  // The previous test stamped a plan 10 000 straight from the controller's node, which gossip does
  // not hand back to the controller: without this its next plan would lose to that one.
  controller.plans().lamport.observe(10_000)
  const replay = await controller.publishPlan(runConfig(target, {
    workload: { kind: 'replay', log: `${missing}.csv`, format: null, speedup: 1, loop: false, rate_scale: 1, from_ms: 0, to_ms: null }
  }), { startInMs: 60_000 })
  await waitFor(() => agent.stats().refusals.some((r) => r.run_id === replay.run_id), 'unreadable replay log refused')
  assert.match(agent.stats().refusals.find((r) => r.run_id === replay.run_id)?.reason ?? '', new RegExp(`cannot load its workload on this agent: .*${missing}\\.csv.*no such file`))
  // Its heartbeats say so: the controller shows why this agent carries nothing.
  await waitFor(() => controller.status().some((m) => m.peer_id === agent.peerId && m.refused?.run_id === replay.run_id), 'the controller sees the refusal')
  assert.equal(agent.currentRun()?.runId === replay.run_id, false, 'the refused plan is not run')

  const model = await controller.publishPlan(runConfig(target, {
    workload: { kind: 'model', model: `${missing}.json`, rate_scale: 1, input_scale: 1, output_scale: 1 }
  }), { startInMs: 60_000 })
  await waitFor(() => agent.stats().refusals.some((r) => r.run_id === model.run_id), 'unreadable model refused')
  assert.equal(rejected('bad-workload'), 2)
  assert.equal(agent.currentRun()?.runId === model.run_id, false)
  // Still a working member: it heartbeats on and answers the next plan.
  const beats = agent.stats().heartbeatsOut
  await waitFor(() => agent.stats().heartbeatsOut > beats + 1, 'the agent keeps beating')
  await controller.stopRun(model.run_id)
})
