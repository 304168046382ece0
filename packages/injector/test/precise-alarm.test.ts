import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPreciseAlarm, preparePreciseAlarm } from '../src/precise-alarm.ts'

test('the alarm thread is ready before a run starts, and an armed alarm rings once, never early; a cancelled one never', async () => {
  // A run awaits this during setup, so the thread's start-up is not on the run's first due times.
  assert.equal(await preparePreciseAlarm(), true)
  assert.equal(await preparePreciseAlarm(), true, 'the one helper thread is reused')

  const rings: number[] = []
  const alarm = createPreciseAlarm(() => rings.push(performance.now()))
  const cancelled = createPreciseAlarm(() => assert.fail('a cancelled alarm rang'))
  assert.ok(alarm !== null && cancelled !== null)
  const due = performance.now() + 30
  alarm.arm(due)
  cancelled.arm(due)
  cancelled.cancel()
  // A keep-alive for the test: the helper thread is unref'd by design.
  for (let i = 0; i < 100 && rings.length === 0; i++) await sleep(10)
  await sleep(50)
  alarm.release()
  cancelled.release()
  assert.equal(rings.length, 1, 'rings exactly once per arming')
  assert.ok(rings[0] >= due - 0.01, `rang ${(due - rings[0]).toFixed(3)} ms early`)
})
