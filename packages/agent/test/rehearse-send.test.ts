import { test } from 'node:test'
import assert from 'node:assert/strict'
import { systemClock } from '@loadmesh/clock'
import { rehearseSendPath } from '../src/index.ts'

test('the send path rehearsal completes every request against its own simulator and closes it', async () => {
  const r = await rehearseSendPath(systemClock())
  // 24 requests of four shapes (streamed and not, chat, completions, embeddings): all completed,
  // so every parser a run uses has run. The test process exiting shows nothing was left open.
  assert.equal(r.sent, 24)
  assert.equal(r.completed, 24)
  assert.ok(r.ms > 0)
})
