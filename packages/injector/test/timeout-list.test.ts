import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createManualClock } from '@loadmesh/clock'
import type { Clock, Timer } from '@loadmesh/clock'
import { TimeoutList } from '../src/timeout-list.ts'
import type { TimeoutEntry } from '../src/timeout-list.ts'

function entry(name: string, fired: string[]): TimeoutEntry {
  return { deadline: Number.NaN, timeoutPrev: null, timeoutNext: null, onTimeout: () => { fired.push(name) } }
}

test('entries expire in deadline order, never before their deadline, and removed ones never', () => {
  const clock = createManualClock(0)
  const list = new TimeoutList(clock)
  const fired: string[] = []
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => entry(n, fired)) as [TimeoutEntry, TimeoutEntry, TimeoutEntry, TimeoutEntry]
  list.add(a, 100, 0)
  clock.advance(10)
  list.add(b, 110, 10)
  list.add(c, 110, 10)
  clock.advance(10)
  list.add(d, 120, 20)
  list.remove(c)
  list.remove(c)
  clock.advance(79)
  assert.deepEqual(fired, [])
  clock.advance(1)
  assert.deepEqual(fired, ['a'])
  clock.advance(9)
  assert.deepEqual(fired, ['a'])
  clock.advance(1)
  assert.deepEqual(fired, ['a', 'b'])
  list.remove(d)
  clock.advance(1000)
  assert.deepEqual(fired, ['a', 'b'])
  assert.equal(clock.pending(), 0, 'an empty list holds no timer')
})

test('one timer serves many entries: adding and removing never arms another', () => {
  const inner = createManualClock(0)
  let armed = 0
  const clock: Clock = { ...inner, setTimer(fn: () => void, ms: number): Timer { armed++; return inner.setTimer(fn, ms) } }
  const list = new TimeoutList(clock)
  const fired: string[] = []
  const entries = Array.from({ length: 1000 }, (_, i) => entry(String(i), fired))
  for (let i = 0; i < entries.length; i++) {
    list.add(entries[i] as TimeoutEntry, 5000 + i, i)
    if (i >= 10) list.remove(entries[i - 10] as TimeoutEntry)
  }
  assert.equal(armed, 1)
  inner.advance(10_000)
  assert.deepEqual(fired, entries.slice(-10).map((_, k) => String(990 + k)))
})

test('a timer that fires early by a fraction of a millisecond expires nothing and re-arms', () => {
  let now = 0
  const timers: (() => void)[] = []
  const clock: Clock = {
    now: () => now, wallNow: () => now,
    setTimer(fn: () => void) { timers.push(fn); return { cancel() {} } },
    setImmediate(fn: () => void) { fn(); return { cancel() {} } }
  }
  const list = new TimeoutList(clock)
  const fired: string[] = []
  list.add(entry('x', fired), 50, 0)
  now = 49.6
  timers.shift()?.()
  assert.deepEqual(fired, [])
  assert.equal(timers.length, 1)
  now = 50
  timers.shift()?.()
  assert.deepEqual(fired, ['x'])
})
