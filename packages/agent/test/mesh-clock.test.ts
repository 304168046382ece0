import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { controllerAndAgents, createTestMesh, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'

let mesh: TestMesh | undefined
after(async () => { await mesh?.close() })

test('peers measure each other\'s clocks by direct probes, and keep their heartbeats out of the moments around T0', async (t) => {
  mesh = await createTestMesh()
  const target = await mesh.simulator()
  const { controller, agents } = await controllerAndAgents(mesh, 3)
  // Probes start as soon as a member joins: every peer gets an offset for every other.
  const peers = [controller, ...agents]
  await waitFor(() => peers.every((a) => peers.every((b) => a === b || a.clockOffsets().offset(b.peerId) !== null)), 'an offset for every pair', 10_000)
  for (const a of peers) {
    for (const o of a.clockOffsets().all()) {
      // One host, one clock: the truth is 0, and the estimate must be within its own error bound of it.
      assert.ok(Math.abs(o.best_offset_ms) <= o.error_ms + 0.05, JSON.stringify(o))
      assert.ok(o.samples >= 1 && o.rounds >= 1)
    }
  }
  const worst = Math.max(...peers.flatMap((a) => a.clockOffsets().all().map((o) => Math.abs(o.best_offset_ms))))
  t.diagnostic(`largest |offset| between in-process peers: ${worst.toFixed(3)} ms`)

  // Heartbeats: each peer's sequence numbers show when it sent; none within the quiet window around T0.
  const sentAt = new Map<string, number[]>()
  const watch = setInterval(() => {
    for (const m of controller.membership().members()) {
      const list = sentAt.get(m.peer_id) ?? []
      if (list.at(-1) !== m.heartbeat.wall_ms) list.push(m.heartbeat.wall_ms)
      sentAt.set(m.peer_id, list)
    }
  }, 2)
  try {
    const plan = await controller.publishPlan(runConfig(target, { rate: 12, duration_ms: 1500 }), { startInMs: 1200 })
    await controller.waitForRun(plan.run_id, { timeoutMs: 20_000 })
    const near = [...sentAt.values()].flat().filter((w) => w - plan.start_wall_ms > -20 && w - plan.start_wall_ms < 10)
    assert.deepEqual(near, [], 'heartbeats sent within [T0 − 20 ms, T0 + 10 ms]')
    assert.ok([...sentAt.values()].every((l) => l.length >= 4), 'heartbeats kept coming otherwise')
  } finally {
    clearInterval(watch)
  }
})
