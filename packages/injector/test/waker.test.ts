import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { systemClock } from '@loadmesh/clock'
import { createWaker } from '../src/waker.ts'

/** Counts event-loop turns (one per setImmediate) until stopped. */
function turnCounter(): { turns: () => number, stop: () => void } {
  let turns = 0
  let on = true
  const next = (): void => { if (on) { turns++; setImmediate(next) } }
  setImmediate(next)
  return { turns: () => turns, stop: () => { on = false } }
}

interface Attempt { due: number, fired: number, firedTurn: number, asked: Array<{ at: number, turn: number }> }

/** One blocking wake 40 ms ahead on the system clock, with block() answering `answer`. */
async function attempt(answer: boolean): Promise<Attempt> {
  const clock = systemClock()
  const turns = turnCounter()
  const a: Attempt = { due: clock.now() + 40, fired: Number.NaN, firedTurn: -1, asked: [] }
  const waker = createWaker(clock, () => { a.fired = clock.now(); a.firedTurn = turns.turns() })
  waker.wakeAt(a.due, () => { a.asked.push({ at: clock.now(), turn: turns.turns() }); return answer })
  for (let i = 0; i < 100 && Number.isNaN(a.fired); i++) await sleep(5)
  turns.stop()
  waker.close()
  return a
}

/**
 * A timer that wakes the thread only after the target (a loaded host) rightly fires at once
 * without asking; a few attempts give one that asked. Every attempt must hold the invariants.
 */
async function attempts(answer: boolean, check: (a: Attempt) => void): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const a = await attempt(answer)
    assert.ok(a.fired >= a.due, `fired ${(a.due - a.fired).toFixed(3)} ms early`)
    assert.ok(a.asked.length <= 1, 'block() is asked at most once per arming')
    // Not asked: the thread woke after the target and fired at once, rightly.
    if (a.asked.length === 0) continue
    check(a)
    return
  }
  assert.fail('in 5 attempts the timer never woke the thread before its target')
}

test('a blocking wake is asked once in its last ms, then blocks the thread to the target: fn runs in that same turn, never early', async () => {
  await attempts(true, (a) => {
    const ask = a.asked[0] as { at: number, turn: number }
    assert.ok(ask.at >= a.due - 3.5, `asked ${(a.due - ask.at).toFixed(2)} ms before the target: the thread would block that long`)
    assert.equal(a.firedTurn, ask.turn, 'nothing else ran between the block and the wake: the thread was blocked')
  })
})

test('a blocking wake that block() refuses at the time still fires on time, through the alarm, without blocking', async () => {
  await attempts(false, (a) => {
    const ask = a.asked[0] as { at: number, turn: number }
    assert.ok(a.firedTurn > ask.turn, 'the loop kept turning after the refusal: the thread was not blocked')
  })
})

test('a cancelled blocking wake neither asks nor fires; re-arming without block() does not block', async () => {
  const clock = systemClock()
  let fired = 0
  const waker = createWaker(clock, () => { fired++ })
  waker.wakeAt(clock.now() + 10, () => assert.fail('a cancelled wake asked to block'))
  waker.cancel()
  await sleep(30)
  assert.equal(fired, 0)
  const turns = turnCounter()
  let firedTurn = -1
  const w2 = createWaker(clock, () => { firedTurn = turns.turns() })
  const due = clock.now() + 5
  w2.wakeAt(clock.now() + 500, () => assert.fail('a replaced arming asked to block'))
  w2.wakeAt(due)
  const armedTurn = turns.turns()
  for (let i = 0; i < 100 && firedTurn < 0; i++) await sleep(5)
  turns.stop()
  w2.close()
  waker.close()
  assert.ok(firedTurn > armedTurn)
})

test('a wait longer than 20 ms does not wake the alarm thread when armed, only in its last ms; it still fires on time', async () => {
  const clock = systemClock()
  const notify = Atomics.notify
  const notifies: number[] = []
  Atomics.notify = ((cell: Int32Array, index: number, count?: number): number => {
    notifies.push(clock.now())
    return notify(cell, index, count)
  }) as typeof Atomics.notify
  try {
    let fired = Number.NaN
    const waker = createWaker(clock, () => { fired = clock.now() })
    const due = clock.now() + 60
    waker.wakeAt(due)
    assert.equal(notifies.length, 0, 'arming for a target 60 ms away woke the alarm thread at once')
    for (let i = 0; i < 100 && Number.isNaN(fired); i++) await sleep(5)
    waker.close()
    assert.ok(fired >= due, `fired ${(due - fired).toFixed(3)} ms early`)
    // Never armed at all is right too, when the timer woke the thread only after the target.
    const armedAt = notifies[0]
    if (armedAt !== undefined) assert.ok(armedAt >= due - 20, `the alarm was armed ${(due - armedAt).toFixed(1)} ms before the target`)
  } finally {
    Atomics.notify = notify
  }
})
