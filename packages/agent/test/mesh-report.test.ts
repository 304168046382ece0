import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRunRecorder, emptyResult } from '@loadmesh/metrics'
import type { RequestResult, WindowSnapshot } from '@loadmesh/metrics'
import { createResultsStore, resolveEpochs } from '@loadmesh/mesh-state'
import type { Command, EpochChange, RunPlan } from '@loadmesh/protocol'
import { buildMeshReport } from '../src/index.ts'
import { runConfig } from './mesh-helpers.ts'

/** `perWindow` ok requests in each of windows from..to, with a TTFT of `ttftMs`. */
function windows(from: number, to: number, perWindow: number, ttftMs: number): WindowSnapshot[] {
  const rec = createRunRecorder({ startAt: 0, windowMs: 1000, slo: { ttft_ms: 100 } })
  for (let w = from; w <= to; w++) {
    for (let k = 0; k < perWindow; k++) {
      const at = w * 1000 + (k * 1000) / perWindow
      const res: RequestResult = {
        ...emptyResult(at, '/v1/chat/completions', true),
        sentAt: at, firstTokenAt: at + ttftMs, firstContentAt: at + ttftMs, lastTokenAt: at + ttftMs + 20, endAt: at + ttftMs + 21,
        itls: [10, 10], contentChunks: 3, outputTokens: 3, outputTokensSource: 'usage', inputTokens: 10, ok: true
      }
      rec.onScheduled(at)
      rec.onSent(at)
      rec.record(res)
    }
  }
  return rec.windows(100_000).filter((x) => x.index >= from && x.index <= to)
}

function epoch(lamport: number, e: EpochChange): Command {
  return { lamport, id: `e${e.epoch}`, issuer: 'a', mesh: 'm', body: { type: 'epoch', epoch: e } }
}

const plan = (slo: Record<string, number>): RunPlan => ({
  run_id: 'r', seed: '1', start_wall_ms: 0, stages: [{ duration_ms: 20_000, rate: 30, concurrency: 0 }],
  config_json: JSON.stringify({ ...runConfig('http://127.0.0.1:1'), slo }), target_allow: ['http://127.0.0.1:1']
})

test('mesh report: a dead peer\'s windows from its last publication to the takeover are named missing; shares, goodput and the SLO gate come from the plan', () => {
  const store = createResultsStore()
  // a and b live the whole run (a also has a drain window 20 of late responses); c died in
  // window 10 and its share moved to a and b at 11.37 s.
  for (const w of windows(0, 20, 10, 50)) store.put('r', 'a', w)
  for (const w of windows(0, 19, 10, 50)) store.put('r', 'b', w)
  for (const w of windows(0, 10, 10, 500)) store.put('r', 'c', w)
  const timeline = resolveEpochs('r', [
    epoch(1, { run_id: 'r', epoch: 0, start_ms: 0, members: [{ peer_id: 'a', weight: 1 }, { peer_id: 'b', weight: 1 }, { peer_id: 'c', weight: 1 }] }),
    epoch(2, { run_id: 'r', epoch: 1, start_ms: 11_370, members: [{ peer_id: 'a', weight: 1 }, { peer_id: 'b', weight: 1 }] })
  ])
  const input = { runId: 'r', selfId: 'a', results: store, timeline, livePeers: ['a', 'b'], clockOffsets: [], reconcile: { answered: ['b'], failed: [] } }
  const r = buildMeshReport({ ...input, plan: plan({ ttft_ms: 100 }) })
  assert.equal(r.coverage.text, 'merged 51/52 windows; peer c (dead) window 11 missing; peer c (dead) windows 0-10 kept')
  assert.equal(r.coverage.complete, false)
  assert.deepEqual(r.agents.map((x) => [x.peer_id, x.share, x.epochs, x.live, x.coverage_text]), [
    ['a', 0.5, [0, 1], true, '20/20 windows'],
    ['b', 0.5, [0, 1], true, '20/20 windows'],
    ['c', 1 / 3, [0], false, '11/12 windows, 1 missing']
  ])
  assert.deepEqual(r.rebalances.map((x) => x.reason), ['initial: 3 agents', 'left: c'])
  assert.equal(r.planned_duration_ms, 20_000)
  // c's 110 requests took 500 ms to the first token: they miss ttft=100ms.
  const done = (peer: string): number => r.agents.find((x) => x.peer_id === peer)?.counters.completed ?? 0
  assert.ok(done('c') >= 100)
  assert.deepEqual([r.goodput.met, r.goodput.total], [done('a') + done('b'), done('a') + done('b') + done('c')])
  assert.equal(r.goodput.requests_per_s, r.goodput.met / 20)
  assert.equal(r.slo_gate?.pass, false)
  assert.match(r.slo_gate?.reasons.join('; ') ?? '', new RegExp(`${r.goodput.met} of ${r.goodput.total}`))

  // Without an SLO: no gate; without the plan: the store's defaults (and no duration).
  assert.equal(buildMeshReport({ ...input, plan: plan({}) }).slo_gate, null)
  const bare = buildMeshReport(input)
  assert.equal(bare.planned_duration_ms, null)
  assert.equal(bare.slo_gate, null)
})

test('mesh report: a live peer that joined in a later epoch owes only the windows from its first epoch', () => {
  const store = createResultsStore()
  for (const w of windows(0, 9, 5, 20)) store.put('r', 'a', w)
  for (const w of windows(4, 9, 5, 20)) store.put('r', 'j', w)
  const timeline = resolveEpochs('r', [
    epoch(1, { run_id: 'r', epoch: 0, start_ms: 0, members: [{ peer_id: 'a', weight: 1 }] }),
    epoch(2, { run_id: 'r', epoch: 1, start_ms: 4250, members: [{ peer_id: 'a', weight: 1 }, { peer_id: 'j', weight: 3 }] })
  ])
  const p = { ...plan({ ttft_ms: 100 }), stages: [{ duration_ms: 10_000, rate: 10, concurrency: 0 }] }
  const r = buildMeshReport({ runId: 'r', selfId: 'a', results: store, timeline, livePeers: ['a', 'j'], clockOffsets: [], reconcile: { answered: [], failed: [] }, plan: p })
  assert.equal(r.coverage.text, 'merged 16/16 windows from 2 peers')
  assert.deepEqual(r.agents.map((x) => [x.peer_id, x.share]), [['a', 0.25], ['j', 0.75]])
  assert.equal(r.slo_gate?.pass, true)
})
