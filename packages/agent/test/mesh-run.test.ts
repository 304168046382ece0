import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { summarize } from '@loadmesh/metrics'
import { controllerAndAgents, createTestMesh, liveAgents, runConfig, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'

let mesh: TestMesh | undefined
after(async () => { await mesh?.close() })

test('3 agents and a controller share 60 req/s for 4 s; reports through two peers agree', async (t) => {
  mesh = await createTestMesh()
  const target = await mesh.simulator()
  const { controller, agents } = await controllerAndAgents(mesh, 3)
  const everyone = [controller, ...agents]
  await waitFor(() => everyone.every((a) => liveAgents(a) === 3 && a.membership().live().length === 4), 'every peer sees 3 agents and the controller')

  const plan = await controller.publishPlan(runConfig(target), { startInMs: 2500 })
  const done = await controller.waitForRun(plan.run_id, { timeoutMs: 20_000 })
  assert.equal(done.state, 'finished')
  // Epoch 0 came from the controller; nobody needed another one.
  assert.equal(done.epochs.epochs.length, 1)
  assert.equal(done.epochs.epochs[0].members.length, 3)

  const viaController = await controller.reconcile(plan.run_id, { timeoutMs: 5000 })
  const viaAgent = await agents[1].reconcile(plan.run_id, { timeoutMs: 5000 })
  const r = viaController.requests
  assert.equal(r.failed, 0, JSON.stringify(r.errors))
  assert.equal(r.dropped, 0)
  assert.ok(Math.abs(r.completed - 240) <= 12, `completed ${r.completed}, expected 240 ± 5%`)
  const ids = agents.map((a) => a.peerId).sort()
  assert.deepEqual(viaController.agents.map((a) => a.peer_id), ids)
  let sum = 0
  for (const a of viaController.agents) {
    assert.ok(a.share !== null && Math.abs(a.share - 1 / 3) < 1e-9, `share of ${a.peer_id}: ${a.share}`)
    assert.ok(Math.abs(a.counters.completed - 80) <= 16, `agent ${a.peer_id} completed ${a.counters.completed}, share 80 ± 20%`)
    sum += a.counters.completed
  }
  assert.equal(r.completed, sum, 'merged count is the sum of the per-peer counts')
  // The same CRDT contents through a different peer: the same totals and the same percentiles.
  assert.deepEqual(viaAgent.counters, viaController.counters)
  assert.deepEqual(viaAgent.latency_ms, viaController.latency_ms)
  assert.ok(viaController.coverage.text.startsWith('merged'), viaController.coverage.text)
  assert.equal(viaController.rebalances.length, 1)
  assert.ok(viaController.latency_ms.ttft.p50 !== null && viaController.latency_ms.ttft.p50 >= 10, `ttft p50 ${viaController.latency_ms.ttft.p50}`)
  assert.ok(viaController.clock_offsets.length >= 3)

  // Measurement: each agent's first intended send relative to its T0, and its send lag.
  for (const a of agents) {
    const run = a.currentRun()
    assert.ok(run !== null)
    const st = run.status()
    const lag = summarize(run.recorder.cumulative().histograms.schedule_lag, { scale: 1000 })
    const rel = (x: number | null): string => (x === null ? 'n/a' : `T0${x - run.t0 >= 0 ? '+' : ''}${(x - run.t0).toFixed(2)} ms`)
    t.diagnostic(`agent ${a.peerId.slice(-6)}: first intended ${rel(st.first_intended_at)}, first sent ${rel(st.first_sent_at)}, schedule lag p50 ${lag.p50} ms p99 ${lag.p99} ms max ${lag.max} ms`)
    assert.equal(st.phase, 'done')
  }
})
