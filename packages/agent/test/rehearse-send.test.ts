import { test } from 'node:test'
import assert from 'node:assert/strict'
import { systemClock } from '@loadmesh/clock'
import { rehearseSendPath } from '../src/index.ts'

test('the send path rehearsal completes every request against its own simulator and closes it', async () => {
  const r = await rehearseSendPath(systemClock())
  // 24 requests of four shapes (streamed and not, chat, completions, embeddings), then six tiny
  // runs through a mesh run's own T0 (open loops, a closed loop): every run sent and every
  // request completed, so the parsers and a run's start have all run. The test process exiting
  // shows nothing was left open.
  assert.equal(r.runs, 6)
  assert.ok(r.sent > 24 + 6, `sent ${r.sent}`)
  assert.equal(r.completed, r.sent)
  assert.ok(r.ms > 0)
})
