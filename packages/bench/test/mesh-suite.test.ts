import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkResultsShape, failedSuite, renderBenchmarksDoc, RESULTS_SCHEMA } from '../src/index.ts'
import type { BenchResults } from '../src/index.ts'
import { renderTerminalSummary } from '../src/terminal-table.ts'
import { meshGoals, startSkewVerdicts } from '../src/suites/mesh.ts'
import type { MeshRow, MeshSuite } from '../src/suites/mesh.ts'

function row(agents: number, convergence: number, skewP99: number, reconcile: number): MeshRow {
  return {
    agents, status: 'ok', note: null, convergence_ms: convergence,
    start_skew_ms: { samples: agents * 3, p50: skewP99 / 3, p99: skewP99, max: skewP99 + 1 }, own_clock_skew_ms: { p50: 1, p99: skewP99 },
    reconcile_ms: { p50: reconcile, max: reconcile * 2 }, gossip_bytes_per_s: { idle: 300 * agents, run: 700 * agents }, cpu_per_agent: { idle: 0.004 * agents, run: 0.0065 * agents }, max_clock_offset_ms: 0.4,
    repetitions: 3, completed: agents * 24, complete_reconciles: 3
  }
}

function results(suite: MeshSuite): BenchResults {
  return {
    schema: RESULTS_SCHEMA,
    kind: 'full',
    command: 'pnpm bench',
    machine: {
      cpu_model: 'Test CPU', cores: 2, node_version: 'v24.9.0', platform: 'linux x64', kernel: '6.1',
      load_avg_before: [0.1, 0.2, 0.3], load_avg_after: [1.9, 1.2, 0.6], date: '2026-01-01T00:00:00.000Z',
      pinning: { taskset: true, client_core: 0, target_core: 1, note: null },
      tools: { nginx: null, wrk: null, autocannon: '9.0.0' }
    },
    suites: [suite],
    warnings: []
  }
}

const mesh = (rows: MeshRow[], goals: MeshSuite['goals']): MeshSuite => ({
  id: 'mesh', title: 'Mesh: convergence, start skew, reconcile, gossip', status: 'ok', note: null, load_avg_start: 0.2,
  cpu_probe: { core0: null, core1: null }, goals, heartbeat_ms: 1000, rate_per_agent: 4, stage_ms: 2000, start_in_ms: 2000, rows
})

test('the mesh suite in the results file and the doc: a row per N, every goal with met / NOT met', () => {
  const s = mesh([row(2, 900, 2.1, 40), row(16, 2600, 7.5, 180)], [
    { description: 'plan start skew p99 ≤ 5 ms on loopback, at every N', met: false },
    { description: 'membership convergence ≤ 2 s with 16 agents', met: false },
    { description: 'reconcile of 16 peers ≤ 250 ms (median)', met: true }
  ])
  const r = results(s)
  assert.deepEqual(checkResultsShape(r), [])
  const doc = renderBenchmarksDoc(r, 'packages/bench/results/latest.json')
  assert.match(doc, /## \d+\. Mesh: convergence, start skew, reconcile, gossip/)
  assert.match(doc, /\| agents \| convergence ms \| skew p50 ms \| skew p99 ms \|/)
  assert.match(doc, /\| 16 \| 2,600 \| 2\.50 \| 7\.50 \| 8\.50 \|/)
  // CPU per agent, idle and running, after the gossip columns.
  assert.match(doc, /\| gossip running B\/s \| CPU\/agent idle \| CPU\/agent running \|/)
  assert.match(doc, /\| 4,800 \| 11,200 \| 0\.064 \| 0\.104 \| 0\.40 \|/)
  assert.match(doc, /\*\*Goal:\*\* plan start skew p99 ≤ 5 ms on loopback, at every N\. \*\*NOT met\*\*\./)
  assert.match(doc, /\*\*Goal:\*\* reconcile of 16 peers ≤ 250 ms \(median\)\. \*\*met\*\*\./)
  const text = renderTerminalSummary(r)
  assert.match(text, /convergence ms/)
  assert.match(text, /^16\s+2,600\s+2\.50\s+7\.50/m)
})

test('a mesh size that failed is named with why; a suite that could not run still renders', () => {
  const s = mesh([row(2, 900, 2.1, 40), { ...row(16, 0, 0, 0), status: 'failed', note: 'loadmesh agent not listening within 120 s', convergence_ms: null }], [])
  const doc = renderBenchmarksDoc(results(s), 'x.json')
  assert.match(doc, /\| 16 \(failed\) \|/)
  assert.match(doc, /- 16 agents: loadmesh agent not listening within 120 s/)
  const failed = failedSuite('mesh', 'keygen failed') as MeshSuite
  assert.deepEqual(checkResultsShape(results(failed)), [])
  assert.match(renderBenchmarksDoc(results(failed), 'x.json'), /\*\*Suite failed\*\*: keygen failed/)
})

test('the bare-process baseline: its columns, and per size that missed the skew goal whether the host could have met it', () => {
  const reach = { ...row(8, 700, 6.2, 40), bare_skew_ms: { samples: 40, p50: 0.3, p99: 2.96 } }
  const floor = { ...row(16, 1200, 7.5, 90), bare_skew_ms: { samples: 80, p50: 0.6, p99: 6.48 } }
  const met = { ...row(4, 400, 0.8, 30), bare_skew_ms: { samples: 20, p50: 0.06, p99: 0.89 } }
  const r = results(mesh([met, reach, floor, row(2, 100, 9, 20)], []))
  assert.deepEqual(checkResultsShape(r), [])
  const doc = renderBenchmarksDoc(r, 'x.json')
  assert.match(doc, /\| own clock p99 ms \| bare skew p50 ms \| bare skew p99 ms \|/)
  assert.match(doc, /\| 16 \| 1,200 \| 2\.50 \| 7\.50 \| 8\.50 \| 7\.50 \| 0\.60 \| 6\.48 \|/)
  assert.match(doc, /start skew at 8 agents: p99 6\.20 ms; 8 bare processes .* p99 2\.96 ms: the bound was within this host's reach in this run/)
  assert.match(doc, /start skew at 16 agents: p99 7\.50 ms; .* p99 6\.48 ms: even they missed 5 ms, so no agent on this host could have met it in this run/)
  // Met at 4; no baseline at 2 (an older results file): no verdict for either.
  assert.doesNotMatch(doc, /start skew at (4|2) agents/)
  assert.match(renderTerminalSummary(r), /start skew at 16 agents: .* even they missed/)
  const bad = results(mesh([{ ...met, bare_skew_ms: { samples: 'x' } as unknown as MeshRow['bare_skew_ms'] }], []))
  assert.match(checkResultsShape(bad).join('\n'), /rows\[0\]\.bare_skew_ms: not \{ samples, p50, p99 \}/)
})

test('the skew goal is judged on each agent\'s own clock (one host, one clock); the corrected figure is shown, not judged', () => {
  // Corrected p99 over the bound only through the probes' error; own clock within it.
  const probeError = { ...row(16, 1500, 5.5, 60), own_clock_skew_ms: { p50: 1.2, p99: 4.9 }, bare_skew_ms: { samples: 80, p50: 0.3, p99: 2.3 } }
  assert.equal(meshGoals([probeError], false)[0].met, true)
  assert.match(meshGoals([probeError], false)[0].description, /own clock/)
  assert.deepEqual(startSkewVerdicts(mesh([probeError], [])), [])
  const late = {
    ...probeError, start_skew_ms: { ...probeError.start_skew_ms, p99: 4.8 }, own_clock_skew_ms: { p50: 1.2, p99: 6.1 },
    own_clock_skew_by_repetition: [{ max_ms: 1.31, over_goal: 0 }, { max_ms: 7.4, over_goal: 3 }, { max_ms: null, over_goal: 0 }]
  }
  assert.equal(meshGoals([late], false)[0].met, false)
  // Where the late sends were: together in one repetition, here.
  assert.match(startSkewVerdicts(mesh([late], [])).join('\n'), /start skew at 16 agents: p99 6\.10 ms;.*agents over 5 ms by repetition: 0, 3, 0 \(latest agent 1\.3, 7\.4, n\/a ms\)/)
  assert.deepEqual(checkResultsShape(results(mesh([late], []))), [])
  const bad = results(mesh([{ ...late, own_clock_skew_by_repetition: [{ max_ms: 'x', over_goal: 1 }] as unknown as MeshRow['own_clock_skew_by_repetition'] }], []))
  assert.match(checkResultsShape(bad).join('\n'), /own_clock_skew_by_repetition: not a list/)
})
