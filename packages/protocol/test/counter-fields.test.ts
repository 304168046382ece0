import { test } from 'node:test'
import assert from 'node:assert/strict'
import { COUNTER_FIELDS } from '@loadmesh/metrics'
import { WIRE_COUNTER_FIELDS } from '../src/results.ts'

// A counter added to metrics but not to the wire would be silently zero on every other peer.
test('the wire carries exactly the counters metrics records', () => {
  assert.deepEqual([...WIRE_COUNTER_FIELDS].sort(), [...COUNTER_FIELDS].sort())
})
