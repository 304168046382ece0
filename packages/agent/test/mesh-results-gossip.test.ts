import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { controllerAndAgents, createTestMesh, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'

let mesh: TestMesh | undefined
after(async () => { await mesh?.close() })

test('results deltas go straight to every peer, are not relayed, and still bring every window to the controller', async () => {
  mesh = await createTestMesh()
  const target = await mesh.simulator()
  const { ctlNode, controller, agents, nodes } = await controllerAndAgents(mesh, 2)
  // Every peer has a gossip stream to every other, so a publish reaches everyone directly.
  await waitFor(() => [ctlNode, ...nodes].every((n) => n.stats().connectedPeers === 2), 'a full mesh of three')
  await new Promise((r) => setTimeout(r, 500))
  const relayedBefore = [ctlNode, ...nodes].map((n) => n.stats().relayed)
  const directBefore = nodes.map((n) => n.stats().publishedDirect)
  const statsBefore = agents.map((a) => a.stats())
  const resultsInBefore = controller.stats().resultsIn

  const plan = await controller.publishPlan(runConfig(target, { rate: 20, duration_ms: 2000 }), { startInMs: 1500 })
  await controller.waitForRun(plan.run_id, { timeoutMs: 15_000 })

  // Every window of both agents arrived through gossip alone, closed (waitForRun waits for that).
  for (const a of agents) {
    const windows = controller.results().peerWindows(plan.run_id, a.peerId)
    assert.ok(windows.length >= 2, `${windows.length} windows from ${a.peerId}`)
    assert.ok(windows.every((w) => w.closed))
    assert.deepEqual(windows.map((w) => w.counters.completed).reduce((s, n) => s + n, 0), a.currentRun()?.status().completed)
  }
  const deltasIn = controller.stats().resultsIn - resultsInBefore
  const deltasOut = agents.reduce((s, a, i) => s + a.stats().resultsOut - statsBefore[i].resultsOut, 0)
  assert.ok(deltasOut >= 8, `the agents published ${deltasOut} results deltas`)
  assert.ok(deltasIn >= deltasOut - 2, `the controller got ${deltasIn} of ${deltasOut}`)
  // Each agent's heartbeats and results deltas went out flagged direct-to-all...
  agents.forEach((a, i) => {
    const periodic = (a.stats().heartbeatsOut - statsBefore[i].heartbeatsOut) + (a.stats().resultsOut - statsBefore[i].resultsOut)
    const direct = nodes[i].stats().publishedDirect - directBefore[i]
    assert.ok(direct >= periodic - 2, `${direct} of ${periodic} periodic messages went out direct`)
  })
  // ...so nobody relayed them: what was relayed is the plan, its epoch and peer announcements.
  const relayed = [ctlNode, ...nodes].map((n, i) => n.stats().relayed - relayedBefore[i])
  for (const r of relayed) assert.ok(r < deltasOut / 2, `relayed ${r} messages while ${deltasOut} results deltas went around`)
})
