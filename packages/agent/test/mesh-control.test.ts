import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createSimulator } from '@loadmesh/simulator'
import { parseDurationSpec } from '@loadmesh/workload'
import { createTestMesh, liveAgents, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'
import type { MeshAgent } from '../src/index.ts'

let mesh: TestMesh
let controller: MeshAgent
let capped: MeshAgent
let free: MeshAgent
let target: string

before(async () => {
  mesh = await createTestMesh()
  target = await mesh.simulator()
  const ctlNode = await mesh.node()
  controller = await mesh.agent(ctlNode, { role: 'controller' })
  capped = await mesh.agent(await mesh.node(), { role: 'agent', controllers: [ctlNode.peerId], maxRate: 5 })
  free = await mesh.agent(await mesh.node(), { role: 'agent', controllers: [ctlNode.peerId] })
  await waitFor(() => [controller, capped, free].every((a) => liveAgents(a) === 2), 'every peer sees both agents')
})
after(async () => { await mesh.close() })

const sentOf = (a: MeshAgent, runId?: string): number => {
  const run = a.currentRun()
  return run === null || (runId !== undefined && run.runId !== runId) ? 0 : run.status().sent
}

test('a plan without epoch 0 gets one from the agents; the rate cap drops the excess and counts it', async () => {
  // 6 s: the note exists only while the run runs, and epoch 0 comes from the agents after their
  // grace period; with 3 s the run was once over before a loaded host (CI start-up) showed it.
  const DURATION_MS = 6000
  const plan = await controller.publishPlan(runConfig(target, { rate: 20, duration_ms: DURATION_MS }), { startInMs: 3000, epoch0: false })
  // While it runs, the controller's status says why the capped agent sends less than its share.
  await waitFor(() => controller.status().some((m) => m.peer_id === capped.peerId && m.note !== null), 'the capped agent is flagged', 10_000)
  assert.equal(controller.status().find((m) => m.peer_id === capped.peerId)?.note, 'capped: share 10.0 req/s over --max-rate 5; the rest is dropped and counted')
  assert.equal(controller.status().find((m) => m.peer_id === free.peerId)?.note, null)
  const done = await controller.waitForRun(plan.run_id, { timeoutMs: 20_000 })
  assert.equal(done.state, 'finished')
  const e0 = done.epochs.epochs[0]
  assert.ok(e0 !== undefined && e0.epoch === 0, 'an epoch 0 exists')
  assert.ok([capped.peerId, free.peerId].includes(e0.command.issuer), `epoch 0 issued by an agent, not ${e0.command.issuer}`)
  const report = await controller.reconcile(plan.run_id)
  const seconds = (DURATION_MS - e0.start_ms) / 1000
  const byId = new Map(report.agents.map((a) => [a.peer_id, a.counters]))
  const c = byId.get(capped.peerId)
  const f = byId.get(free.peerId)
  assert.ok(c !== undefined && f !== undefined)
  // 10 req/s each were scheduled; the capped agent (5 req/s) sent every other one and dropped the rest.
  assert.equal(c.scheduled, 10 * seconds)
  assert.equal(c.dropped, 5 * seconds)
  assert.equal(c.sent, 5 * seconds)
  assert.equal(f.scheduled, 10 * seconds)
  assert.equal(f.dropped, 0)
  assert.equal(controller.membership().member(capped.peerId)?.heartbeat.max_rate, 5)
})

test('stop ends the run everywhere: scheduling stops, in-flight requests finish and are recorded', async () => {
  const plan = await controller.publishPlan(runConfig(target, { rate: 20, duration_ms: 20_000 }), { startInMs: 1500 })
  await waitFor(() => sentOf(capped, plan.run_id) >= 3 && sentOf(free, plan.run_id) >= 5, 'both agents are sending', 10_000)
  await controller.stopRun(plan.run_id)
  const done = await controller.waitForRun(plan.run_id, { timeoutMs: 10_000 })
  assert.equal(done.state, 'stopped')
  for (const a of [capped, free]) {
    const run = a.currentRun()
    assert.ok(run !== null && run.runId === plan.run_id)
    await run.done()
    const st = run.status()
    assert.equal(st.phase, 'done')
    assert.equal(st.completed + st.failed, st.sent, 'every sent request was recorded')
    // Far fewer than 20 s of load.
    assert.ok(st.sent < 100, `sent ${st.sent}`)
  }
  const before = [sentOf(capped), sentOf(free)]
  await new Promise((r) => setTimeout(r, 500))
  assert.deepEqual([sentOf(capped), sentOf(free)], before, 'nothing is sent after the stop')
})

test('abort ends the run now and drops what is in flight', async () => {
  // A server that takes 2 s to answer: requests are still in flight when the abort arrives.
  const slow = createSimulator({ seed: 2, engine: { ttft: parseDurationSpec('2s'), itl: parseDurationSpec('1ms') } })
  const { url } = await slow.start()
  try {
    const plan = await controller.publishPlan(runConfig(url, { rate: 10, duration_ms: 20_000 }), { startInMs: 1500 })
    await waitFor(() => sentOf(free, plan.run_id) >= 3, 'requests in flight', 10_000)
    await controller.abortRun(plan.run_id, 'test abort')
    const done = await controller.waitForRun(plan.run_id, { timeoutMs: 5000 })
    assert.equal(done.state, 'aborted')
    assert.equal(done.abort?.reason, 'test abort')
    const run = free.currentRun()
    assert.ok(run !== null && run.runId === plan.run_id)
    // Released without waiting for the 2 s answers.
    await run.done()
    assert.equal(run.status().phase, 'done')
    const sent = run.status().sent
    assert.ok(sent >= 3)
    await new Promise((r) => setTimeout(r, 2500))
    assert.equal(run.status().completed, 0, 'answers that arrive after the abort are not recorded')
    assert.equal(run.status().sent, sent)
  } finally {
    await slow.stop()
  }
})

test('a closed-loop plan splits the concurrency between the agents', async () => {
  const plan = await controller.publishPlan(runConfig(target, { mode: 'closed', rate: null, concurrency: 4, duration_ms: 2000 }), { startInMs: 1500 })
  const done = await controller.waitForRun(plan.run_id, { timeoutMs: 15_000 })
  assert.equal(done.state, 'finished')
  const report = await controller.reconcile(plan.run_id)
  assert.equal(report.requests.failed, 0)
  const [a, b] = report.agents.map((x) => x.counters.completed)
  assert.ok(a > 20 && b > 20, `completed ${a} and ${b}`)
  // 2 in flight each on the same server: about the same number of requests each.
  assert.ok(a / b > 0.7 && a / b < 1 / 0.7, `completed ${a} vs ${b}`)
  assert.equal(report.requests.dropped, 0)
})
