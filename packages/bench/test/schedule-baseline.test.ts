import { test } from 'node:test'
import assert from 'node:assert/strict'
import { futexSleep, meetSchedule } from '../src/schedule-baseline.ts'

test('the spin baseline is late exactly where the clock jumped: a core taken away', () => {
  // A fake clock in 0.01 ms steps that jumps 3 ms once it passes 10 ms: due times inside the jump
  // are seen only at its end, the others at once.
  let t = 0
  let jumped = false
  const now = (): number => {
    t += 0.01
    if (!jumped && t > 10) { jumped = true; t += 3 }
    return t
  }
  const due = [1, 5, 10.5, 11, 12, 12.5, 13.5, 20]
  const r = meetSchedule(due, 0, { now })
  assert.equal(r.scheduled, 8)
  assert.equal(r.over_2ms, 2, '10.5 and 11 ms fell in the jump to ~13.01 ms: 2.51 and 2.01 ms late')
  assert.equal(r.over_1ms, 3, 'and 12 ms (1.01 ms late); 12.5 ms (0.51 ms) is not')
  assert.ok(Math.abs((r.lag_ms.max ?? 0) - 2.51) < 0.02, `max ${r.lag_ms.max}`)
  assert.ok((r.lag_ms.p50 ?? 1) < 0.02, 'most due times are met within a clock step')
})

test('several due in the same moment are all met by one reading, and no due times give nulls', () => {
  let t = 0
  const r = meetSchedule([2, 2, 2], 0, { now: () => (t += 0.75) })
  assert.deepEqual([r.scheduled, r.over_1ms, r.lag_ms.max, r.lag_ms.p50], [3, 0, 0.25, 0.25], "read at 2.25 ms: all three 0.25 ms late")
  const none = meetSchedule([], 0)
  assert.deepEqual(none.lag_ms, { p50: null, p99: null, p999: null, max: null })
})

test('the sleep baseline sleeps up to each due time and is late only by what the wake-up cost', () => {
  let t = 0
  const slept: number[] = []
  // Each sleep oversleeps by 0.3 ms, once by 2.5 ms: a CPU woken late.
  const r = meetSchedule([1, 4, 9], 0, {
    now: () => (t += 0.01),
    sleep: (ms) => { slept.push(ms); t += ms + (slept.length === 2 ? 2.5 : 0.3) }
  })
  assert.equal(slept.length, 3, 'one sleep per due time')
  assert.equal(r.over_2ms, 1, 'the late wake-up')
  assert.ok(Math.abs((r.lag_ms.max ?? 0) - 2.51) < 0.02, `max ${r.lag_ms.max}`)
})

test('futexSleep really sleeps about as long as asked', () => {
  const sleep = futexSleep()
  const a = performance.now()
  sleep(20)
  const took = performance.now() - a
  assert.ok(took >= 19.5, `slept ${took} ms`)
})
