import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock, parseDuration, formatDuration } from '../src/index.ts'

test('manual clock fires timers in deadline order at their deadlines', () => {
  const c = createManualClock()
  const seen: Array<[string, number]> = []
  c.setTimer(() => seen.push(['b', c.now()]), 20)
  c.setTimer(() => seen.push(['a', c.now()]), 10)
  const t = c.setTimer(() => seen.push(['x', c.now()]), 15)
  t.cancel()
  c.setImmediate(() => seen.push(['i', c.now()]))
  c.advance(12)
  assert.deepEqual(seen, [['i', 0], ['a', 10]])
  assert.equal(c.now(), 12)
  c.runAll()
  assert.deepEqual(seen.at(-1), ['b', 20])
  assert.equal(c.pending(), 0)
})

test('timers created while firing run if they fall due in the same advance', () => {
  const c = createManualClock()
  const at: number[] = []
  const tick = (): void => { at.push(c.now()); if (at.length < 5) c.setTimer(tick, 3) }
  c.setTimer(tick, 3)
  c.advance(100)
  assert.deepEqual(at, [3, 6, 9, 12, 15])
})

test('durations parse with units and name the bad input', () => {
  assert.equal(parseDuration('250ms'), 250)
  assert.equal(parseDuration('1.5s'), 1500)
  assert.equal(parseDuration('2m'), 120_000)
  assert.equal(parseDuration('500us'), 0.5)
  assert.equal(parseDuration('42'), 42)
  assert.throws(() => parseDuration('10 parsecs', '--duration'), /--duration: "10 parsecs" is not a duration/)
  assert.equal(formatDuration(0.25), '250us')
  assert.equal(formatDuration(1234), '1.23s')
})
