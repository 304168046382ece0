import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { systemClock } from '@loadmesh/clock'
import type { Clock } from '@loadmesh/clock'
import { createTestMesh, liveAgents, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'

const meshes: TestMesh[] = []
after(async () => { await Promise.all(meshes.map(async (m) => await m.close())) })

test('epoch 0 is left to the controller for the grace period, even when membership changes meanwhile', async () => {
  const mesh = await createTestMesh()
  meshes.push(mesh)
  const target = await mesh.simulator()
  const controller = await mesh.agent(await mesh.node(), { role: 'controller' })
  // Long enough for a join on a loaded CI host (all test files at once on 2 cores): at 4 s the join
  // was once seen too late to test anything.
  const GRACE_MS = 6000
  const first = await mesh.agent(await mesh.node(), { role: 'agent', epochGraceMs: GRACE_MS })
  await waitFor(() => liveAgents(controller) === 1 && liveAgents(first) === 1, 'the first agent is in')
  // Past its start-up warm period (suspectAfterMs), so the first agent would propose on a change.
  await new Promise((r) => setTimeout(r, 1200))
  // The controller's epoch 0 "is on its way": it is never sent here, so the agents must not
  // race it before the grace period is over.
  const plan = await controller.publishPlan(runConfig(target, { rate: 4, duration_ms: 1000 }), { startInMs: GRACE_MS + 2000, epoch0: false })
  await waitFor(() => first.currentRun()?.runId === plan.run_id, 'the first agent adopts the plan')
  const adoptedAt = performance.now()
  // A membership change during the grace period: a second agent joins.
  const second = await mesh.agent(await mesh.node(), { role: 'agent', epochGraceMs: GRACE_MS })
  await waitFor(() => liveAgents(first) === 2, 'the first agent sees the second')
  const sawJoinAfter = performance.now() - adoptedAt
  assert.ok(sawJoinAfter < GRACE_MS - 500, `the join was seen ${sawJoinAfter.toFixed(0)} ms after adoption, too late to test the grace period`)
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(first.plans().timeline(plan.run_id).latest, null, 'no epoch was proposed during the grace period')
  // After it, the agents supply epoch 0 themselves, with both members.
  await waitFor(() => first.plans().timeline(plan.run_id).latest !== null, 'an epoch after the grace period', GRACE_MS + 2000)
  // Loose: the test sees the adoption up to a poll and a busy event loop after the agent did.
  assert.ok(performance.now() - adoptedAt >= GRACE_MS / 2, 'not long before the grace period ended')
  const e0 = first.plans().timeline(plan.run_id).epochs[0]
  assert.equal(e0.epoch, 0)
  assert.ok([first.peerId, second.peerId].includes(e0.command.issuer))
  assert.equal(e0.members.length, 2)
})

test('the agents supply epoch 0 when their grace timer fires early, as Node timers do on a busy event loop', async () => {
  const mesh = await createTestMesh()
  meshes.push(mesh)
  const target = await mesh.simulator()
  const controller = await mesh.agent(await mesh.node(), { role: 'controller' })
  // A timer is armed from the event loop's cached time, which lags the clock by however long the
  // current turn has run: on a loaded host it fires that much early. Here always by 40 ms.
  const real = systemClock()
  const early: Clock = { ...real, setTimer: (fn, delayMs) => real.setTimer(fn, Math.max(0, delayMs - 40)) }
  const agent = await mesh.agent(await mesh.node(), { role: 'agent', clock: early })
  await waitFor(() => liveAgents(controller) === 1 && liveAgents(agent) === 1, 'the agent is in')
  await new Promise((r) => setTimeout(r, 1200)) // past its start-up warm period
  const plan = await controller.publishPlan(runConfig(target, { rate: 4, duration_ms: 1000 }), { startInMs: 4000, epoch0: false })
  await waitFor(() => agent.plans().timeline(plan.run_id).latest !== null, 'an epoch 0 from the agent', 3000)
  assert.equal(agent.plans().timeline(plan.run_id).epochs[0].command.issuer, agent.peerId)
})
