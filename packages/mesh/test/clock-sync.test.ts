import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { createManualClock, systemClock } from '@loadmesh/clock'
import { createPreciseWall, RequestFailedError, sharedPreciseWall } from '../src/index.ts'
import { answerClock, probeClock, wallMinusMonotonic } from '../src/clock-sync.ts'
import { hostPort, makeNode, stopAll, waitFor } from './helpers.ts'

afterEach(stopAll)

test('two nodes on one host measure each other\'s clock: every probe is within half its round trip of zero', async () => {
  const a = await makeNode()
  const b = await makeNode({ seeds: [hostPort(a)] })
  await waitFor(() => b.connectedPeers().includes(a.peerId) && a.connectedPeers().includes(b.peerId), 'connected both ways')
  for (const [from, to] of [[a, b], [b, a]] as const) {
    const probes = await from.measureClock(to.peerId, { probes: 6 })
    assert.equal(probes.length, 6)
    for (const p of probes) {
      const rtt = p.t4 - p.t1 - (p.t3 - p.t2)
      const offset = (p.t2 - p.t1 + (p.t3 - p.t4)) / 2
      assert.ok(rtt >= 0 && p.t3 >= p.t2, JSON.stringify(p))
      // One clock, so the true offset is 0; 0.05 ms covers the two sides' wall calibrations.
      assert.ok(Math.abs(offset) <= rtt / 2 + 0.05, `offset ${offset} with rtt ${rtt}`)
    }
  }
  assert.equal(a.stats().clockSyncsOut, 1)
  assert.equal(a.stats().clockSyncsIn, 1)
  assert.equal(b.stats().clockSyncFailures, 0)
})

test('later rounds with a peer reuse its clock stream; a peer that closed it gets a new one', async () => {
  const a = await makeNode()
  const b = await makeNode({ seeds: [hostPort(a)] })
  await waitFor(() => b.connectedPeers().includes(a.peerId) && a.connectedPeers().includes(b.peerId), 'connected both ways')
  for (let round = 0; round < 3; round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, 1050)) // the responder's budget: 16 probes a second per stream
    assert.equal((await a.measureClock(b.peerId, { probes: 8 })).length, 8)
  }
  assert.equal(a.stats().clockSyncsOut, 3)
  assert.equal(b.stats().clockSyncsIn, 1, 'three rounds, one stream')
  // Back to back, within the responder's one-second budget window: a second stream, not an abort.
  assert.equal((await a.measureClock(b.peerId, { probes: 16 })).length, 16)
  assert.equal(b.stats().clockSyncsIn, 2)
  assert.equal(b.stats().clockSyncFailures + a.stats().clockSyncFailures, 0)
})

test('a responder answers round after round on one stream and closes it once idle', async () => {
  const clock = createManualClock()
  const wall = (): number => Date.now()
  const r = pipe()
  const bad: string[] = []
  let refreshed = 0
  answerClock(r.b as unknown as AnyStream, { wall, refresh: () => { refreshed++ }, clock, idleMs: 120_000, onBad: (reason) => bad.push(reason) })
  for (let round = 0; round < 3; round++) {
    assert.equal((await probeClock(r.a as unknown as AnyStream, wall, 16, new AbortController().signal)).length, 16)
    clock.advance(30_000)
  }
  assert.deepEqual(bad, [])
  assert.ok(refreshed >= 48, 'the wall is refreshed between probes')
  assert.equal(r.b.closed, false, 'probed every 30 s: kept open')
  clock.advance(90_000)
  assert.equal(r.b.closed, true, 'closed after 120 s without a probe')
  assert.equal(r.b.aborted, null, 'closed, not aborted')
})

test('probing a peer that is not there fails with a typed error and is counted', async () => {
  const a = await makeNode()
  const b = await makeNode()
  const gone = b.peerId
  await b.stop()
  await assert.rejects(a.measureClock(gone, { timeoutMs: 2000 }), (err: unknown) => err instanceof Error && /clock probes of/.test(err.message) && (err instanceof RequestFailedError || err.name === 'RequestTimeoutError'))
  assert.equal(a.stats().clockSyncFailures, 1)
  await assert.rejects(a.measureClock('not-a-peer-id'), /measureClock: "not-a-peer-id" is not a peer id/)
})

test('the precise wall clock is exact where the wall clock only has milliseconds', () => {
  // A clock whose monotonic reading moves 1 µs per read and whose wall clock is truncated to ms.
  let mono = 500
  const clock = { now: () => (mono += 0.001), wallNow: () => Math.floor(mono + 1_764_300_000_000.37) }
  const d = wallMinusMonotonic(clock)
  assert.ok(Math.abs(d - 1_764_300_000_000.37) < 0.005, String(d - 1_764_300_000_000))
  // The real clock: within a millisecond of Date.now(), never behind it by a whole one.
  const wall = createPreciseWall(systemClock())
  const before = Date.now()
  const w = wall.now()
  const after = Date.now()
  assert.ok(w >= before - 0.05 && w < after + 1.05, `${before} ${w} ${after}`)
  // A manual clock does not move: the plain difference, at once.
  const manual = createManualClock(0, 1_000_000)
  assert.equal(wallMinusMonotonic(manual), 1_000_000)
})

test('a precise wall keeps its tightest calibration: a loose one is re-taken soon, a tight one only to notice a wall-clock step', () => {
  // Each monotonic reading advances by `inc`: the spin sees a wall-clock edge to within `inc`.
  let mono = 1000
  let inc = 0.3
  let d = 1_764_300_000_000.37
  const clock = { now: () => (mono += inc), wallNow: () => Math.floor(mono + d) }
  const error = (w: { now(): number }): number => Math.abs(w.now() - (mono + d))
  const wall = createPreciseWall(clock, { refreshMs: 10_000, retryMs: 250 })
  assert.ok(wall.uncertaintyMs() > 0.2 && wall.uncertaintyMs() < 0.35, `loose at first (preempted spin): ${wall.uncertaintyMs()}`)
  inc = 0.001
  wall.refresh()
  assert.ok(wall.uncertaintyMs() > 0.2, 'not re-taken before retryMs')
  mono += 300
  wall.refresh()
  assert.ok(wall.uncertaintyMs() < 0.01 && error(wall) < 0.01, `tight after a retry: ${wall.uncertaintyMs()}, off by ${error(wall)}`)
  // A tight one stays, even when a later spin is preempted again.
  inc = 0.3
  mono += 300
  wall.refresh()
  mono += 10_000
  wall.refresh()
  assert.ok(wall.uncertaintyMs() < 0.03 && error(wall) < 0.03, `a looser re-take does not replace it: ${wall.uncertaintyMs()}, off by ${error(wall)}`)
  // The wall clock is stepped by 5 ms: the next re-take shows it, loose as it is.
  d += 5
  mono += 10_000
  wall.refresh()
  assert.ok(error(wall) < 0.35, `follows the step: off by ${error(wall)}`)
  assert.equal(sharedPreciseWall(clock), sharedPreciseWall(clock), 'one per clock')
  assert.notEqual(sharedPreciseWall(clock), sharedPreciseWall({ ...clock }))
})

/** Two in-memory ends of a stream: what one sends arrives at the other as a 'message' event. */
function pipe() {
  class End extends EventTarget {
    other: End | null = null
    closed = false
    aborted: Error | null = null
    send(data: Uint8Array): boolean {
      const to = this.other as End
      queueMicrotask(() => { if (!to.closed) to.dispatchEvent(Object.assign(new Event('message'), { data })) })
      return true
    }
    async close(): Promise<void> { this.end() }
    abort(err: Error): void { this.aborted = err; this.end() }
    end(): void {
      if (this.closed) return
      this.closed = true
      this.dispatchEvent(new Event('close'))
      const o = this.other as End
      if (!o.closed) { o.closed = true; o.dispatchEvent(new Event('close')) }
    }
  }
  const a = new End()
  const b = new End()
  a.other = b
  b.other = a
  return { a, b }
}

type AnyStream = Parameters<typeof probeClock>[0]

test('malformed frames abort the exchange on either side, with the reason', async () => {
  const clock = systemClock()
  const wall = (): number => Date.now()
  // A responder answering with the wrong kind byte.
  const r1 = pipe()
  r1.b.addEventListener('message', () => { r1.b.send(new Uint8Array(20).fill(1)) })
  await assert.rejects(probeClock(r1.a as unknown as AnyStream, wall, 3, new AbortController().signal), /clock reply has version 1 kind 1/)
  // A reply to a probe never sent.
  const r2 = pipe()
  r2.b.addEventListener('message', () => {
    const f = new Uint8Array(20)
    const v = new DataView(f.buffer)
    v.setUint8(0, 1); v.setUint8(1, 2); v.setUint16(2, 9); v.setFloat64(4, 1); v.setFloat64(12, 2)
    r2.b.send(f)
  })
  await assert.rejects(probeClock(r2.a as unknown as AnyStream, wall, 3, new AbortController().signal), /clock reply for probe 9 while probe 0 is outstanding/)
  // A requester sending garbage, then one sending more probes than allowed.
  const bad: string[] = []
  const r3 = pipe()
  answerClock(r3.b as unknown as AnyStream, { wall, clock, idleMs: 5000, onBad: (reason) => bad.push(reason) })
  r3.a.send(Uint8Array.of(7, 7, 0, 0))
  await new Promise((r) => setTimeout(r, 5))
  assert.match(bad[0] ?? '', /clock probe has version 7 kind 7/)
  assert.ok(r3.b.aborted !== null)
  const r4 = pipe()
  answerClock(r4.b as unknown as AnyStream, { wall, clock, idleMs: 5000, onBad: (reason) => bad.push(reason) })
  const many = new Uint8Array(4 * 17)
  for (let i = 0; i < 17; i++) many.set([1, 1, 0, i], i * 4)
  r4.a.send(many)
  await new Promise((r) => setTimeout(r, 5))
  assert.match(bad[1] ?? '', /more than 16 clock probes within 1000 ms on one stream/)
  // And a well-formed exchange over the same pipe works.
  const r5 = pipe()
  answerClock(r5.b as unknown as AnyStream, { wall, clock, idleMs: 5000, onBad: (reason) => bad.push(reason) })
  const probes = await probeClock(r5.a as unknown as AnyStream, wall, 4, new AbortController().signal)
  assert.equal(probes.length, 4)
  assert.equal(bad.length, 2)
})
