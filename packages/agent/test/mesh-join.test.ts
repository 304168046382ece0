import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { controllerAndAgents, createTestMesh, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'

let mesh: TestMesh | undefined
after(async () => { await mesh?.close() })

test('an agent that joins mid-run hears the plan and takes a share from the next epoch', async (t) => {
  mesh = await createTestMesh()
  const target = await mesh.simulator()
  const { ctlNode, controller, agents } = await controllerAndAgents(mesh, 2)

  const plan = await controller.publishPlan(runConfig(target, { rate: 20, duration_ms: 7000 }), { startInMs: 1500 })
  await waitFor(() => (agents[0].currentRun()?.status().sent ?? 0) > 0, 'the run started', 10_000)
  const late = await mesh.agent(await mesh.node(), { role: 'agent', controllers: [ctlNode.peerId] })

  const done = await controller.waitForRun(plan.run_id, { timeoutMs: 20_000 })
  const tl = done.epochs
  assert.equal(tl.epochs.length, 2, JSON.stringify(tl.rebalances.map((r) => r.reason)))
  assert.deepEqual(tl.rebalances[1].joined, [late.peerId])
  const e1 = tl.epochs[1].start_ms
  t.diagnostic(`late agent joined; epoch 1 at T0+${e1} ms (${tl.rebalances[1].reason})`)
  assert.equal(late.plans().current()?.run_id, plan.run_id, 'the newcomer got the plan re-announced')
  const report = await late.reconcile(plan.run_id)
  const mine = report.agents.find((a) => a.peer_id === late.peerId)
  assert.ok(mine !== undefined)
  // 20/3 req/s from epoch 1 to the end.
  const expected = (20 / 3) * ((7000 - e1) / 1000)
  assert.ok(Math.abs(mine.counters.completed - expected) <= expected * 0.2 + 2, `newcomer completed ${mine.counters.completed}, expected about ${expected.toFixed(1)}`)
  assert.equal(report.requests.failed, 0)
  const sum = report.agents.reduce((s, a) => s + a.counters.completed, 0)
  assert.equal(report.requests.completed, sum)
})
