import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { createTestMesh, waitFor } from './mesh-helpers.ts'
import type { TestMesh } from './mesh-helpers.ts'

let mesh: TestMesh | undefined
after(async () => { await mesh?.close() })

/** Blocks this thread (both agents' event loop) for `ms`, as a long synchronous task would. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

test('an agent whose event loop stalls reports itself degraded, stays alive, and recovers', async () => {
  mesh = await createTestMesh()
  const a = await mesh.agent(await mesh.node(), { role: 'agent' })
  const b = await mesh.agent(await mesh.node(), { role: 'agent' })
  await waitFor(() => b.membership().member(a.peerId)?.state === 'alive', 'b sees a')
  assert.equal(b.membership().member(a.peerId)?.degraded, false, 'an idle agent is not degraded')

  // The flag lasts one heartbeat (250 ms here), so it is caught as a change, not by polling.
  const views: Array<{ state: string, degraded: boolean, p99: number }> = []
  b.membership().onChange((c) => {
    if (c.peer_id === a.peerId) views.push({ state: c.current.state, degraded: c.current.degraded, p99: c.current.heartbeat.loop_delay_p99_ms })
  })
  // Over the 100 ms default threshold, under the 1 s suspect time of the test mesh.
  stall(400)
  await waitFor(() => views.some((v) => v.degraded), 'b sees a degraded', 5000)
  const seen = views.find((v) => v.degraded)
  assert.equal(seen?.state, 'alive', 'degraded is not dead')
  assert.ok((seen?.p99 ?? 0) >= 100, `reported p99 ${seen?.p99} ms`)

  await waitFor(() => b.membership().member(a.peerId)?.degraded === false, 'a recovers', 5000)
})
