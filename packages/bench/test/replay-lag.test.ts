import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHistogram, recordMs } from '@loadmesh/metrics'
import { checkResultsShape, failedSuite, renderBenchmarksDoc, renderTerminalSummary, RESULTS_SCHEMA } from '../src/index.ts'
import type { BenchResults, LagRow, Suite } from '../src/index.ts'
import { countAboveMs } from '../src/count-above.ts'
import type { ReplayLagSuite } from '../src/suites/replay-lag.ts'

function results(suites: Suite[]): BenchResults {
  return {
    schema: RESULTS_SCHEMA, kind: 'full', command: 'pnpm bench',
    machine: {
      cpu_model: 'Test CPU', cores: 2, node_version: 'v24.9.0', platform: 'linux x64', kernel: '6.1',
      load_avg_before: [0.1, 0.2, 0.3], load_avg_after: [1, 1, 1], date: '2026-01-01T00:00:00.000Z',
      pinning: { taskset: true, client_core: 0, target_core: 1, note: null }, tools: { nginx: '1.22.1', wrk: null, autocannon: null }
    },
    suites,
    warnings: []
  }
}

const probe = (gap: number) => ({ duration_s: 2, lost_fraction: 0.001, gaps_over_1ms_per_s: 0.1, max_gap_ms: gap })

function replay(max: number): ReplayLagSuite {
  return {
    id: 'replay-lag', title: 'Replay', status: 'ok', note: null, load_avg_start: 0.2, cpu_probe: { core0: probe(1.4), core1: probe(0.6) },
    goals: [{ description: 'every request of the replay sent within 2 ms of its scaled log time (schedule_lag max ≤ 2 ms)', met: max <= 2 }],
    target: 'nginx, core 1', log: 'test/fixtures/azure-llm-2023-conv.csv', speedup: 60, window: null, warmup_window: '0m..2m',
    scheduled: 19366, sent: 19366, failed: 0, dropped: 0, duration_s: 58.1,
    schedule_lag_ms: { p50: 0.05, p99: 0.9, p999: 1.8, max }, over_1ms: 120, over_2ms: 7,
    event_loop_delay_ms: { p99: 1.1, max: 6.2 }, cpu_util: 0.2, core_usage: { other_core0: 0.01, other_core1: 0.02, steal_core0: 0, steal_core1: 0 },
    probe_after: probe(9.5),
    baselines: {
      spin: { scheduled: 19366, lag_ms: { p50: 0.001, p99: 0.02, p999: 1.1, max: 3.4 }, over_1ms: 30, over_2ms: 9 },
      sleep: { scheduled: 19366, lag_ms: { p50: 0.08, p99: 0.4, p999: 2.5, max: 4.1 }, over_1ms: 60, over_2ms: 12 }
    }
  }
}

function lagRow(rate: number, client: 'core 0' | 'host', p99: number): LagRow {
  return {
    rate, client, status: 'ok', note: null, achieved_rate: rate, scheduled: rate * 10, sent: rate * 10, completed: rate * 10, failed: 0, dropped: 0,
    schedule_lag_ms: { p50: 0.05, p99, p999: 3, max: 5 }, event_loop_delay_ms: { p99: 2, max: 7 }, cpu_util: 0.3,
    core_usage: client === 'host' ? null : { other_core0: 0.002, other_core1: null, steal_core0: 0, steal_core1: null }, cpu_probe: probe(1.2)
  }
}

test('countAboveMs counts the requests later than a bound, never more than were', () => {
  const h = createHistogram()
  for (const ms of [0.05, 0.4, 0.999, 1.0, 1.2, 1.9, 2.0, 2.5, 7]) recordMs(h, ms)
  assert.equal(countAboveMs(h, 1), 5, '1.2, 1.9, 2.0, 2.5 and 7 ms are over 1 ms; 1.0 is not')
  assert.equal(countAboveMs(h, 2), 2, '2.5 and 7 ms are over 2 ms; 2.0 is not')
  assert.equal(countAboveMs(h, 10), 0)
})

test('the replay suite reports its maximum against the 2 ms goal, with the lag distribution and the probes', () => {
  const doc = renderBenchmarksDoc(results([replay(1.7)]))
  assert.match(doc, /## 7\. Replay/)
  assert.match(doc, /\| whole trace \| 19,366 \| 58\.1 \| 0\.050 \| 0\.900 \| 1\.800 \| 1\.700 \| 120 \| 7 \| 0 \| 0 \| 6\.2 \| 1\.0% \| 1\.4 \/ 9\.5 \|/)
  assert.match(doc, /\*\*Goal:\*\* every request of the replay sent within 2 ms .*\*\*met\*\* \(max 1\.700 ms\)/)
  assert.match(renderBenchmarksDoc(results([replay(4.2)])), /\*\*NOT met\*\* \(max 4\.200 ms\)/)
  assert.match(renderTerminalSummary(results([replay(1.7)])), /whole trace +19,366/)
  assert.deepEqual(checkResultsShape(JSON.parse(JSON.stringify(results([replay(1.7)])))), [])
})

test('the baselines are rows of their own, and the goal line says whether any sender could have met the bound', () => {
  const doc = renderBenchmarksDoc(results([replay(4.2)]))
  assert.match(doc, /\| baseline: sleep, then spin \(nothing sent\) \| n\/a \| 58\.1 \| 0\.080 \| 0\.400 \| 2\.500 \| 4\.100 \| 60 \| 12 \|/)
  assert.match(doc, /\| baseline: spin only \(nothing sent\) \| n\/a \| 58\.1 \| 0\.001 \| 0\.020 \| 1\.100 \| 3\.400 \| 30 \| 9 \|/)
  assert.match(doc, /\*\*NOT met\*\* \(max 4\.200 ms\); over 2 ms: loadmesh 7, an ideal sender that sleeps between sends 12, a spin that never sleeps 9 \(max 3\.400 ms\): even the spin missed the bound/)
  const quiet = replay(1.7)
  if (quiet.baselines !== null) quiet.baselines.spin = { scheduled: 19366, lag_ms: { p50: 0.001, p99: 0.02, p999: 0.5, max: 1.2 }, over_1ms: 2, over_2ms: 0 }
  assert.match(renderBenchmarksDoc(results([quiet])), /a spin that never sleeps 0 \(max 1\.200 ms\): the bound was within the machine's reach/)
  assert.match(renderTerminalSummary(results([quiet])), /baseline: spin only/)
  // A results file from before the baselines existed still renders, with the client's row only.
  const old = JSON.parse(JSON.stringify(results([replay(4.2)]))) as BenchResults
  delete (old.suites[0] as Partial<ReplayLagSuite>).baselines
  const oldDoc = renderBenchmarksDoc(old)
  assert.doesNotMatch(oldDoc, /\| baseline: /)
  assert.match(oldDoc, /\*\*NOT met\*\* \(max 4\.200 ms\)\./)
  assert.deepEqual(checkResultsShape(old), [])
  const broken = JSON.parse(JSON.stringify(results([replay(4.2)]))) as { suites: Array<{ baselines: unknown }> }
  broken.suites[0].baselines = { spin: { lag_ms: {} } }
  assert.match(checkResultsShape(broken).join('\n'), /results\.suites\[0\]\.baselines: not \{ spin, sleep \}/)
})

test('a replay suite that could not run still makes a well-formed results file and doc', () => {
  const r = results([failedSuite('replay-lag', 'nginx exploded')])
  assert.deepEqual(checkResultsShape(r), [])
  assert.match(renderBenchmarksDoc(r), /\*\*Suite failed\*\*: nginx exploded/)
})

test('the lag goal is judged on the unpinned row, and the one-core row is shown and named beside it', () => {
  const lag: Suite = {
    id: 'schedule-lag', title: 'Lag', status: 'ok', note: null, load_avg_start: 0.2, cpu_probe: { core0: probe(1.2), core1: probe(1) }, target: 'nginx',
    connections: 1024, max_in_flight: 4096, warmup_s: 2, duration_s: 10,
    rates: [lagRow(1000, 'core 0', 1.4), lagRow(5000, 'core 0', 9), lagRow(1000, 'host', 0.4)],
    goals: [{ description: 'p99 schedule lag ≤ 1 ms at 1,000 req/s, client unpinned', met: true }]
  }
  const doc = renderBenchmarksDoc(results([lag]))
  assert.match(doc, /\| 1,000, client unpinned \| 1,000 \| 0\.050 \| 0\.400 \|/)
  assert.match(doc, /\| 1,000 \| 1,000 \| 0\.050 \| 1\.400 \|/)
  assert.match(doc, /\*\*met\*\* \(client unpinned: p99 0\.400 ms; on one core: p99 1\.400 ms, over the goal\)/)
  assert.match(doc, /the goal is judged on the unpinned row/)
})
