import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeSnapshot, emptyCounters, mergeSnapshots, summarize } from '@loadmesh/metrics'
import type { Histogram, WindowSnapshot } from '@loadmesh/metrics'
import { windowToWire } from '@loadmesh/protocol'
import { createResultsStore } from '../src/index.ts'
import type { ResultsStore } from '../src/index.ts'
import { recordedWindows } from './helpers.ts'

/** A valid window with no histograms (enough where only keys and counters matter). */
function bare(index: number, revision: number, over: Partial<WindowSnapshot> = {}): WindowSnapshot {
  const counters = emptyCounters()
  counters.sent = revision
  return { index, start_ms: index * 1000, duration_ms: 1000, closed: true, revision, counters, histograms: {}, ...over }
}

function buckets(h: Histogram): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i < h.countsArrayLength; i++) {
    const c = h.getCountAtIndex(i)
    if (c !== 0) out.push([i, c])
  }
  return out
}

/** Everything the store holds for a run, for comparing two stores. */
function stateOf(s: ResultsStore, run: string) {
  return s.peers(run).map((p) => [p, s.peerWindows(run, p)])
}

const REAL = recordedWindows(1, 4, 20) // 4 closed windows with real histograms

test('any permutation and duplication of puts gives the same state (grow-only CRDT)', () => {
  // Candidates for 3 peers x 3 windows: revisions 0..3, open/closed, and different contents at the
  // same revision (a tie the store must break the same way everywhere).
  const candidate = fc.record({
    peer: fc.constantFrom('a', 'b', 'c'),
    index: fc.integer({ min: 0, max: 2 }),
    revision: fc.integer({ min: 0, max: 3 }),
    closed: fc.boolean(),
    variant: fc.integer({ min: 0, max: 3 })
  })
  const make = (c: { index: number; revision: number; closed: boolean; variant: number }): WindowSnapshot => {
    const real = REAL[c.variant]
    return { ...real, index: c.index, start_ms: c.index * 1000, revision: c.revision, closed: c.closed }
  }
  fc.assert(
    fc.property(fc.array(candidate, { minLength: 1, maxLength: 14 }), fc.array(fc.nat(), { maxLength: 8 }), fc.nat(), (cands, dupes, seed) => {
      const puts = cands.map((c) => [c.peer, make(c)] as const)
      const withDupes = [...puts, ...dupes.map((d) => puts[d % puts.length])]
      const shuffled = fc.sample(fc.shuffledSubarray(withDupes, { minLength: withDupes.length, maxLength: withDupes.length }), { seed, numRuns: 1 })[0]
      const a = createResultsStore()
      const b = createResultsStore()
      for (const [p, w] of puts) a.put('run', p, w)
      for (const [p, w] of shuffled) b.put('run', p, w)
      assert.deepEqual(stateOf(b, 'run'), stateOf(a, 'run'))
      const ma = a.merged('run')
      const mb = b.merged('run')
      assert.deepEqual(mb.counters, ma.counters)
      assert.deepEqual(buckets(mb.histograms.ttft), buckets(ma.histograms.ttft))
      // The running sums (windows added, replaced ones subtracted) equal a fresh sum of what is held.
      const held = (stateOf(a, 'run') as Array<[string, WindowSnapshot[]]>).flatMap(([, ws]) => ws)
      const fresh = decodeSnapshot(mergeSnapshots(held))
      assert.deepEqual(ma.counters, fresh.counters)
      for (const m of ['ttft', 'itl', 'output_tokens'] as const) assert.deepEqual(buckets(ma.histograms[m]), buckets(fresh.histograms[m]))
      assert.equal(ma.histograms.ttft.maxValue, fresh.histograms.ttft.maxValue)
      // Per key, the kept snapshot has the highest revision offered.
      for (const [p, windows] of stateOf(a, 'run') as Array<[string, WindowSnapshot[]]>) {
        for (const w of windows) {
          const best = Math.max(...cands.filter((c) => c.peer === p && c.index === w.index).map((c) => c.revision))
          assert.equal(w.revision, best)
        }
      }
    }),
    { seed: 4242, numRuns: 150 }
  )
})

test('put outcomes: added, duplicate, replaced by a higher revision, stale for a lower one; closed beats open at equal revision', () => {
  const s = createResultsStore()
  assert.equal(s.put('r', 'p', bare(0, 2, { closed: false })), 'added')
  assert.equal(s.put('r', 'p', bare(0, 2, { closed: false })), 'duplicate')
  assert.equal(s.put('r', 'p', bare(0, 2, { closed: true })), 'replaced')
  assert.equal(s.put('r', 'p', bare(0, 2, { closed: false })), 'stale')
  assert.equal(s.put('r', 'p', bare(0, 1)), 'stale')
  assert.equal(s.put('r', 'p', bare(0, 5)), 'replaced')
  assert.equal(s.peerWindows('r', 'p')[0].revision, 5)
  // Stored snapshots are frozen copies: the caller's object can change, the store's cannot.
  const mine = bare(1, 1)
  s.put('r', 'p', mine)
  mine.counters.sent = 999
  assert.equal(s.peerWindows('r', 'p')[1].counters.sent, 1)
  assert.throws(() => {
    ;(s.peerWindows('r', 'p')[1] as { revision: number }).revision = 7
  })
})

test('bad windows are rejected and counted, never thrown; the state is untouched', () => {
  const s = createResultsStore()
  s.put('r', 'p', REAL[0])
  const before = stateOf(s, 'r')
  const bad: Array<[string, string, unknown, string]> = [
    ['r', 'p', null, 'ERR_BAD_SNAPSHOT'],
    ['r', 'p', { ...REAL[1], revision: -1 }, 'ERR_BAD_SNAPSHOT'],
    ['r', 'p', { ...REAL[1], counters: { ...REAL[1].counters, sent: 1.5 } }, 'ERR_BAD_SNAPSHOT'],
    ['r', 'p', { ...REAL[1], revision: 99, histograms: { ttft: 'not base64!' } }, 'ERR_BAD_HISTOGRAM'],
    ['r', 'p', { ...REAL[1], revision: 99, histograms: { ttft: REAL[1].histograms.ttft?.slice(0, 40) } }, 'ERR_BAD_HISTOGRAM'],
    ['r', 'p', { ...REAL[1], revision: 99, histograms: { future_metric: 42 } }, 'ERR_BAD_HISTOGRAM'],
    ['r', 'p', { ...REAL[1], start_ms: 0 }, 'ERR_NOT_A_WINDOW'],
    ['r', 'p', mergeSnapshots([REAL[1], REAL[2]]), 'ERR_NOT_A_WINDOW'],
    ['r', 'p', bare(300_000, 1), 'ERR_OUT_OF_RANGE'],
    ['', 'p', REAL[1], 'ERR_BAD_KEY'],
    ['r', 'has space', REAL[1], 'ERR_BAD_KEY']
  ]
  for (const [run, peer, w, code] of bad) {
    assert.equal(s.put(run, peer, w), 'rejected', code)
    assert.equal(s.rejections().last?.code, code, s.rejections().last?.message)
  }
  assert.equal(s.rejections().total, bad.length)
  assert.match(s.rejections().last?.message ?? '', /bad peer id "has space"/)
  assert.equal(s.rejections().by_code.ERR_BAD_HISTOGRAM, 3)
  assert.deepEqual(stateOf(s, 'r'), before)
  // Whatever arrives, put() returns an outcome.
  fc.assert(
    fc.property(fc.anything(), fc.anything(), (w, id) => {
      const out = s.put('r', typeof id === 'string' ? id : 'p', w)
      assert.ok(['rejected', 'added', 'replaced', 'duplicate', 'stale'].includes(out))
    }),
    { seed: 5, numRuns: 300 }
  )
  const throwing = new Proxy({}, { get: () => { throw new Error('boom') }, ownKeys: () => { throw new Error('boom') } })
  assert.equal(s.put('r', 'p', throwing), 'rejected')
  // A histogram under a name this version does not know is kept (a newer peer's metric) but not merged.
  assert.equal(s.put('r', 'p', { ...REAL[1], histograms: { ...REAL[1].histograms, future_metric: REAL[1].histograms.ttft } }), 'added')
  assert.ok('future_metric' in s.peerWindows('r', 'p')[1].histograms)
})

test('merged() is the bucket-wise sum over every (peer, window) key, equal to metrics.mergeSnapshots', () => {
  const s = createResultsStore()
  const a = recordedWindows(11, 5, 30)
  const b = recordedWindows(12, 5, 30)
  for (const w of a) s.put('r', 'pa', w)
  for (const w of b) s.put('r', 'pb', w)
  for (const w of a) s.put('r', 'pa', w) // duplicates change nothing
  const m = s.merged('r')
  const ref = decodeSnapshot(mergeSnapshots([...a, ...b]))
  assert.equal(m.windows, 10)
  assert.deepEqual(m.peers, ['pa', 'pb'])
  assert.deepEqual(m.counters, ref.counters)
  for (const name of ['ttft', 'itl', 'e2e', 'output_tokens'] as const) {
    assert.deepEqual(buckets(m.histograms[name]), buckets(ref.histograms[name]), name)
  }
  assert.equal(m.counters.completed, 300)
  assert.equal(summarize(m.histograms.ttft).count, 300)
  assert.equal(s.merged('r'), m, 'cached until the run changes')
  s.put('r', 'pc', a[0])
  assert.equal(s.merged('r').windows, 11)
  // Mesh-wide windows per index: the two peers' window 2 added.
  const series = s.mergedWindows('r')
  assert.deepEqual(series.map((w) => w.index), [0, 1, 2, 3, 4])
  assert.equal(series[2].counters.completed, a[2].counters.completed + b[2].counters.completed)
  const ref2 = mergeSnapshots([a[2], b[2]])
  assert.deepEqual({ ...series[2], histograms: null }, { ...ref2, histograms: null })
  for (const name of ['ttft', 'e2e', 'schedule_lag'] as const) {
    assert.deepEqual(buckets(decodeSnapshot(series[2]).histograms[name]), buckets(decodeSnapshot(ref2).histograms[name]), name)
  }
  assert.equal(series[0].counters.completed, a[0].counters.completed * 2 + b[0].counters.completed, 'pc holds a copy of pa window 0')
  assert.equal(s.merged('unknown').windows, 0)
})

test('coverage names the missing windows, as data and as a sentence', () => {
  const s = createResultsStore()
  const peers = Array.from({ length: 10 }, (_, i) => `peer-${i}`)
  for (const p of peers) {
    for (let i = 0; i < 100; i++) {
      if (p === 'peer-3' && i >= 41 && i <= 43) continue
      s.put('r', p, bare(i, 1))
    }
  }
  const c = s.coverage('r')
  assert.equal(c.text, 'merged 997/1000 windows; peer peer-3 windows 41-43 missing')
  assert.deepEqual(c.peers.find((p) => p.peer_id === 'peer-3')?.missing, [{ from: 41, to: 43 }])
  assert.equal(c.complete, false)
  assert.equal(c.missing, 3)

  // A dead peer that stopped at window 60 is not blamed for what it never had to send; a live one
  // that lags is, and a member that sent nothing is named.
  s.put('r', 'peer-3', bare(42, 1))
  s.put('r', 'peer-3', bare(41, 1))
  s.put('r', 'peer-3', bare(43, 1))
  s.put('r', 'late', bare(0, 1, { closed: false }))
  const c2 = s.coverage('r', { livePeers: peers.filter((p) => p !== 'peer-9').concat('late'), peers: [...peers, 'silent'] })
  assert.equal(
    c2.text,
    'merged 1001/1200 windows; peer late windows 1-99 missing; peer silent (dead) windows 0-99 missing; 1 window still open'
  )
  // Per-peer expectations (e.g. from the plan's duration) and several gaps.
  const t = createResultsStore()
  for (const i of [0, 2, 3, 5, 9, 12]) t.put('r', 'x', bare(i, 1))
  const c3 = t.coverage('r', { expectedUntil: { x: 14 }, livePeers: [] })
  assert.equal(c3.text, 'merged 6/14 windows; peer x (dead) windows 1, 4, 6-8, 10-11 and 1 more range missing')
  assert.deepEqual(c3.peers[0].missing, [{ from: 1, to: 1 }, { from: 4, to: 4 }, { from: 6, to: 8 }, { from: 10, to: 11 }, { from: 13, to: 13 }])
  // A peer that joined at window 10 owes nothing before it; what it holds there is not counted.
  const j = createResultsStore()
  for (const i of [3, 10, 11, 13]) j.put('r', 'joiner', bare(i, 1))
  const c4 = j.coverage('r', { expectedFrom: { joiner: 10 }, expectedUntil: { joiner: 15 }, livePeers: ['joiner'] })
  assert.equal(c4.text, 'merged 3/5 windows; peer joiner windows 12, 14 missing')
  assert.deepEqual([c4.peers[0].from, c4.peers[0].until, c4.peers[0].beyond], [10, 15, 1])
  const full = createResultsStore()
  full.put('r', 'x', bare(0, 1))
  assert.equal(full.coverage('r').text, 'merged 1/1 windows from 1 peer')
  assert.equal(full.coverage('r').complete, true)
})

test('changesSince: only windows whose revision changed since the last publication, by peer, paginated', () => {
  const s = createResultsStore()
  for (let i = 0; i < 5; i++) s.put('r', 'self', bare(i, 1, { closed: i < 4 }))
  s.put('r', 'other', bare(0, 1))
  let cs = s.changesSince('r', 0, { peer: 'self' })
  assert.deepEqual(cs.deltas.map((d) => [d.peer_id, d.windows.map((w) => w.index)]), [['self', [0, 1, 2, 3, 4]]])
  let cursor = cs.cursor
  // The recorder hands over every window again each tick: nothing new to publish.
  for (let i = 0; i < 5; i++) s.put('r', 'self', bare(i, 1, { closed: i < 4 }))
  assert.equal(s.changesSince('r', cursor, { peer: 'self' }).windows, 0)
  // The open window moves on: just that one.
  s.put('r', 'self', bare(4, 2, { closed: false }))
  s.put('r', 'self', bare(5, 1, { closed: false }))
  cs = s.changesSince('r', cursor, { peer: 'self' })
  assert.deepEqual(cs.deltas[0].windows.map((w) => [w.index, w.revision]), [[4, 2], [5, 1]])
  cursor = cs.cursor
  // All peers, with a limit: pages in change order, no window lost or repeated.
  const seen: string[] = []
  let c = 0
  for (;;) {
    const page = s.changesSince('r', c, { limit: 2 })
    for (const d of page.deltas) for (const w of d.windows) seen.push(`${d.peer_id}:${w.index}`)
    c = page.cursor
    if (!page.more) break
  }
  assert.deepEqual(seen.sort(), ['other:0', 'self:0', 'self:1', 'self:2', 'self:3', 'self:4', 'self:5'])
  assert.equal(s.changesSince('r', c).windows, 0)
  // Deltas convert to the wire and back into another store.
  const peer2 = createResultsStore()
  for (const d of s.changesSince('r', 0).deltas) {
    const sum = peer2.putDelta({ run_id: d.run_id, peer_id: d.peer_id, windows: d.windows.map(windowToWire) })
    assert.equal(sum.rejected, 0)
  }
  assert.deepEqual(stateOf(peer2, 'r'), stateOf(s, 'r'))
  const again = peer2.putReconcile({ run_id: 'r', responder: 'x', peers: [{ peer_id: 'self', live: true, windows: s.peerWindows('r', 'self').map(windowToWire) }] })
  assert.deepEqual(again, { added: 0, replaced: 0, duplicate: 6, stale: 0, rejected: 0 })
})

test('measurement: 16 peers x 60 one-second windows at 100 req/s each', (t) => {
  const perPeer = Array.from({ length: 16 }, (_, p) => recordedWindows(100 + p, 60, 100))
  const bytes = perPeer[0].reduce((a, w) => a + Object.values(w.histograms).reduce((x, h) => x + (h?.length ?? 0), 0), 0) / 60
  const s = createResultsStore()
  let t0 = performance.now()
  perPeer.forEach((ws, p) => { for (const w of ws) assert.equal(s.put('r', `peer-${p}`, w), 'added') })
  const putMs = performance.now() - t0
  t0 = performance.now()
  for (let p = 0; p < 16; p++) for (const w of perPeer[p]) s.put('r', `peer-${p}`, w)
  const dupMs = performance.now() - t0
  t0 = performance.now()
  const m = s.merged('r')
  const mergeMs = performance.now() - t0
  t0 = performance.now()
  s.merged('r')
  const cachedMs = performance.now() - t0
  t0 = performance.now()
  const ref = mergeSnapshots(perPeer.flat())
  const refMs = performance.now() - t0
  t0 = performance.now()
  for (const w of perPeer.flat().slice(0, 96)) decodeSnapshot(w)
  const decodeEachMs = ((performance.now() - t0) / 96) * 960
  t0 = performance.now()
  const series = s.mergedWindows('r')
  const seriesMs = performance.now() - t0
  assert.equal(m.windows, 960)
  assert.equal(series.length, 60)
  assert.deepEqual(m.counters, ref.counters)
  assert.equal(m.counters.completed, 16 * 6000)
  t.diagnostic(
    `histogram text per window ${(bytes / 1024).toFixed(1)} KiB (9 metrics); ` +
      `960 puts (validated) ${putMs.toFixed(0)} ms; 960 duplicate puts ${dupMs.toFixed(1)} ms; ` +
      `merged() ${mergeMs.toFixed(0)} ms (cached ${cachedMs.toFixed(3)} ms); metrics.mergeSnapshots(960) ${refMs.toFixed(0)} ms; ` +
      `decodeSnapshot per window, extrapolated to 960: ${decodeEachMs.toFixed(0)} ms; mergedWindows() ${seriesMs.toFixed(0)} ms`
  )
})
