import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getHeapSpaceStatistics } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createManualClock } from '@loadmesh/clock'
import type { Clock } from '@loadmesh/clock'
import { createIdleWork, runOpenLoop } from '@loadmesh/injector'
import { createIdleGc } from '../src/idle-gc.ts'
import type { HeapUse, IdleGcOptions } from '../src/idle-gc.ts'

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const KB = 1024
const SCAVENGE_MS = 2.5

interface Outcome {
  sends: number[]
  /** Loop-clock times at which idle-gc scavenged. */
  collections: number[]
  /** Scavenges the simulated V8 had to run at a send because the young generation was full. */
  forced: number
  /** Loop-clock times at which idle-gc looked at the heap. */
  probes: number[]
}

/**
 * An open loop on a manual clock over a simulated young generation: each send allocates 100 KB of
 * a 4 MB young generation; when a send finds it full, "V8" scavenges right there (the send waits).
 * idle-gc's scavenge empties it too and is seen by idle-gc as taking SCAVENGE_MS.
 */
async function simulate(gaps: number[], n: number, opts: Partial<IdleGcOptions> & { enabled: boolean }): Promise<Outcome> {
  const clock = createManualClock(0)
  let young = 0
  let stolen = 0
  const out: Outcome = { sends: [], collections: [], forced: 0, probes: [] }
  // idle-gc times its scavenge with this clock: the simulated pause shows as SCAVENGE_MS.
  const gcClock: Clock = { ...clock, now: () => clock.now() + stolen }
  const gc = createIdleGc({
    clock: gcClock,
    probe: (): HeapUse => { out.probes.push(clock.now()); return { youngUsed: young, youngCapacity: 4096 * KB, oldUsed: 0 } },
    collect: opts.enabled ? () => { out.collections.push(clock.now()); young = 50 * KB; stolen += SCAVENGE_MS } : null,
    setIncrementalMarking: null,
    ...opts
  })
  const idle = createIdleWork(clock)
  let k = 0
  let total = 0
  for (let i = 0; i < n; i++) total += gaps[i % gaps.length]
  const loop = runOpenLoop({
    clock,
    startAt: 0,
    // Just past the n-th due time: the run sends exactly n.
    durationMs: total + 0.05,
    maxInFlight: 1000,
    nextGapMs: () => gaps[k++ % gaps.length],
    idle: gc.wrap(idle),
    fire: async (t) => {
      out.sends.push(t)
      young += 100 * KB
      if (young > 4096 * KB) { out.forced++; young = 50 * KB }
    }
  })
  for (let t = 0; t <= total + 1; t += 0.1) { clock.advance(0.1); await flush() }
  await loop
  idle.close()
  return out
}

// Mostly short gaps, one long enough for a scavenge (3.5 ms of room needed) in every ten sends.
const GAPS = [0.2, 0.5, 1, 0.3, 4.5, 0.2, 0.8, 2, 0.1, 0.6]

test('scavenges run in the gaps of the schedule, never where a send is due, and V8 never has to scavenge at a send', async () => {
  const r = await simulate(GAPS, 400, { enabled: true })
  assert.equal(r.sends.length, 400)
  assert.equal(r.forced, 0, 'the young generation never filled up at a send')
  assert.ok(r.collections.length >= 5, `${r.collections.length} scavenges in gaps`)
  for (const at of r.collections) {
    const next = r.sends.find((t) => t > at)
    assert.ok(next === undefined || next - at >= SCAVENGE_MS + 1, `a scavenge at ${at} ms ends before the next send, due at ${next} ms`)
  }
  // Control: the same schedule without gap scavenges fills the young generation at sends.
  const control = await simulate(GAPS, 400, { enabled: false })
  assert.ok(control.forced >= 5, `${control.forced} scavenges at sends without idle-gc`)
})

test('without gaps long enough for a scavenge, idle-gc never looks at the heap', async () => {
  const r = await simulate([0.5, 1, 2, 0.25], 200, { enabled: true })
  assert.equal(r.sends.length, 200)
  // Once the last send is out (right after it), the gap is endless and one look is taken there.
  const last = r.sends[r.sends.length - 1]
  assert.equal(r.probes.filter((t) => t < last).length, 0)
  assert.equal(r.collections.filter((t) => t < last).length, 0)
  assert.ok(r.probes.length <= 1)
})

test('the measured cost of a scavenge sets the room a gap needs', async () => {
  // Gaps of 3.2 ms fit the initial 2 ms estimate plus the 1 ms margin, but not a measured 2.5 ms
  // scavenge plus the margin: after the first one, no gap of this run qualifies any more.
  const r = await simulate([3.2], 100, { enabled: true, initialCostMs: 2 })
  // (Once the last send is out, the gap is endless: one more may run there.)
  const last = r.sends[r.sends.length - 1]
  assert.equal(r.collections.filter((t) => t < last).length, 1)
  assert.ok(r.forced > 0, 'the simulated heap then fills at sends')
  const wider = await simulate([3.6], 100, { enabled: true, initialCostMs: 2 })
  assert.equal(wider.forced, 0, 'gaps of 3.6 ms still fit a 2.5 ms scavenge')
  assert.ok(wider.collections.length >= 2)
})

test('the memory-reducer hold: marking off from begin() to end(), shared by concurrent runs, released early when the old generation grows', () => {
  const clock = createManualClock(0)
  const calls: boolean[] = []
  let old = 100 * 1024 * 1024
  const make = () => createIdleGc({
    clock,
    probe: () => ({ youngUsed: 0, youngCapacity: 1, oldUsed: old }),
    collect: null,
    setIncrementalMarking: (on) => calls.push(on),
    releaseAfterBytes: 32 * 1024 * 1024
  })
  const a = make()
  const b = make()
  a.begin()
  b.begin()
  assert.deepEqual(calls, [false], 'turned off once')
  a.end()
  assert.deepEqual(calls, [false], 'still held by the other run')
  old += 10 * 1024 * 1024
  b.tick()
  assert.equal(b.stats().holding, true, '10 MB of growth keeps the hold')
  old += 30 * 1024 * 1024
  b.tick()
  assert.equal(b.stats().holding, false, '40 MB of growth releases it')
  assert.deepEqual(calls, [false, true])
  b.end()
  a.end()
  assert.deepEqual(calls, [false, true], 'end() after a release changes nothing')
})

test('with V8 itself: a gap scavenge empties the young generation and leaves no gc global behind', () => {
  const keep: object[] = []
  for (let i = 0; i < 1000; i++) keep.push({ i })
  let garbage: object[] = []
  for (let i = 0; i < 30_000; i++) garbage.push({ i, s: `x${i}` })
  garbage = []
  const young = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0
  const before = young()
  assert.ok(before > 500_000, `young generation in use: ${before} bytes`)
  const clock = createManualClock(0)
  const gc = createIdleGc({ clock, fill: 0, setIncrementalMarking: null })
  const idle = gc.wrap(createIdleWork(clock))
  idle.setSlack(() => 100)
  idle.drain()
  assert.equal(gc.stats().collections, 1)
  assert.ok(young() < before / 2, `young generation after the gap scavenge: ${young()} bytes (before ${before})`)
  assert.equal(keep.length + garbage.length, 1000)
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined')
  assert.equal(runInNewContext('typeof gc'), 'undefined')
  idle.close()
})
