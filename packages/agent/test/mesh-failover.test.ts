import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { controllerAndAgents, createTestMesh, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'

let mesh: TestMesh | undefined
after(async () => { await mesh?.close() })

test('an agent dying mid-run: survivors take its share from the next epoch; its published windows stay in the result', async (t) => {
  mesh = await createTestMesh()
  const target = await mesh.simulator()
  const { controller, agents, nodes } = await controllerAndAgents(mesh, 3)

  const plan = await controller.publishPlan(runConfig(target, { rate: 30, duration_ms: 8000 }), { startInMs: 2000 })
  // Let the victim carry load for about 2 s (and publish those windows), then kill it.
  const victim = agents[2]
  const heldBySurvivor = () => agents[0].results().peerWindows(plan.run_id, victim.peerId)
  await waitFor(() => heldBySurvivor().some((w) => w.closed && w.index >= 1), 'a survivor holds 2 closed windows of the victim', 10_000)
  const victimHeld = heldBySurvivor().length
  const victimCompletedHeld = heldBySurvivor().reduce((sum, w) => sum + w.counters.completed, 0)
  await victim.stop()
  await nodes[2].stop()
  const survivors = [agents[0], agents[1]]

  const done = await controller.waitForRun(plan.run_id, { timeoutMs: 20_000 })
  const tl = done.epochs
  assert.equal(tl.epochs.length, 2, JSON.stringify(tl.rebalances.map((r) => r.reason)))
  assert.deepEqual(tl.rebalances[1].left, [victim.peerId])
  assert.deepEqual(tl.epochs[1].members.map((m) => m.peer_id), survivors.map((a) => a.peerId).sort())
  const epoch1 = tl.epochs[1].start_ms
  t.diagnostic(`victim killed; epoch 1 starts at T0+${epoch1} ms: ${tl.rebalances[1].reason}`)
  assert.ok(epoch1 > 2000 && epoch1 < 8000, `epoch 1 at ${epoch1}`)

  const report = await survivors[1].reconcile(plan.run_id, { timeoutMs: 5000 })
  assert.equal(report.requests.failed, 0, JSON.stringify(report.requests.errors))
  const byId = new Map(report.agents.map((a) => [a.peer_id, a]))
  const dead = byId.get(victim.peerId)
  assert.ok(dead !== undefined, 'the dead agent is in the report')
  assert.ok(dead.windows >= Math.max(2, victimHeld), `dead agent windows kept: ${dead.windows}`)
  // Everything it had published before it died is in the merged result (≈ 10 req/s for 2 s).
  assert.ok(dead.counters.completed >= victimCompletedHeld && victimCompletedHeld >= 15, `dead agent's completed requests kept: ${dead.counters.completed} (survivor held ${victimCompletedHeld} at the kill)`)
  assert.equal(dead.live, false)
  assert.match(report.coverage.text, new RegExp(victim.peerId))
  // Survivors: 10 req/s each until epoch 1, then 15 req/s each.
  for (const s of survivors) {
    const expected = 10 * (epoch1 / 1000) + 15 * ((8000 - epoch1) / 1000)
    const got = byId.get(s.peerId)?.counters.completed ?? 0
    assert.ok(Math.abs(got - expected) <= expected * 0.1 + 2, `survivor ${s.peerId} completed ${got}, expected about ${expected}`)
  }
  const sum = report.agents.reduce((s, a) => s + a.counters.completed, 0)
  assert.equal(report.requests.completed, sum)
  t.diagnostic(`coverage: ${report.coverage.text}`)
})
