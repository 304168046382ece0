import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createManualClock } from '@loadmesh/clock'
import type { Clock } from '@loadmesh/clock'
import { createHeapAlarm } from '../src/heap-alarm.ts'

/** A manual clock that counts the timers set on it: "one timer for the whole heap" is the point. */
function countingClock(): { clock: ReturnType<typeof createManualClock>, timers: () => number, wrapped: Pick<Clock, 'now' | 'setTimer'> } {
  const clock = createManualClock()
  let n = 0
  return { clock, timers: () => n, wrapped: { now: () => clock.now(), setTimer: (fn, ms) => { n++; return clock.setTimer(fn, ms) } } }
}

test('one timer serves the earliest deadline; a later deadline sets no new timer, an earlier one does', () => {
  const { clock, timers, wrapped } = countingClock()
  const deadlines: number[] = []
  const fired: Array<{ armed: number, at: number }> = []
  const alarm = createHeapAlarm(wrapped, () => deadlines[0], (armed) => {
    fired.push({ armed, at: clock.now() })
    while (deadlines.length > 0 && deadlines[0] <= clock.now()) deadlines.shift()
  })
  deadlines.push(10)
  alarm.arm()
  deadlines.push(20)
  alarm.arm()
  assert.equal(timers(), 1, 'a later deadline waits for the armed timer')
  deadlines.unshift(5)
  alarm.arm()
  assert.equal(timers(), 2, 'an earlier deadline needs its own timer')
  clock.advance(5)
  // The callback drained 5 and re-armed once, for 10 (the earlier timer for 10 was cancelled).
  assert.deepEqual(fired, [{ armed: 5, at: 5 }])
  clock.advance(15)
  assert.deepEqual(fired.map((f) => f.armed), [5, 10, 20])
  assert.deepEqual(deadlines, [])
})

test('arm() from inside the callback is deferred to one re-arm at its end; reset() forgets the timer', () => {
  const { clock, timers, wrapped } = countingClock()
  const deadlines = [1]
  let firingSeen = false
  let calls = 0
  const alarm = createHeapAlarm(wrapped, () => deadlines[0], () => {
    calls++
    firingSeen = alarm.firing
    deadlines.shift()
    if (calls === 1) {
      deadlines.push(3, 4)
      alarm.arm()
      alarm.arm()
    }
  })
  alarm.arm()
  clock.advance(1)
  assert.equal(firingSeen, true)
  assert.equal(timers(), 2, 'the two arms inside the callback set no timer; the re-arm after it sets one')
  alarm.reset()
  clock.advance(10)
  assert.deepEqual(deadlines, [3, 4], 'a reset alarm does not fire')
  alarm.arm()
  clock.advance(10)
  assert.deepEqual(deadlines, [])
  assert.equal(calls, 3, 'armed again, it fires for 3 and then for 4')
})
