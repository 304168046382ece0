import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkResultsShape, createProcessRegistry, RESULTS_SCHEMA } from '../src/index.ts'
import type { BenchResults, Suite } from '../src/index.ts'
import type { BenchContext } from '../src/suites/context.ts'
import { runReqPerSSuite } from '../src/suites/req-per-s.ts'
import { runScheduleLagSuite } from '../src/suites/schedule-lag.ts'
import { runReplayLagSuite } from '../src/suites/replay-lag.ts'
import { runSseSuite } from '../src/suites/sse.ts'
import { detectTools } from '../src/tools.ts'

// Whole suites at toy durations: the plumbing (targets, workers, results), not the numbers.
async function withContext(tools: Partial<ReturnType<typeof detectTools>>, f: (ctx: BenchContext, lines: string[]) => Promise<void>): Promise<void> {
  const real = detectTools()
  const registry = createProcessRegistry({ taskset: real.taskset, cores: availableParallelism(), setpriv: real.setpriv })
  const tmpDir = mkdtempSync(join(tmpdir(), 'bench-suite-test-'))
  const lines: string[] = []
  try {
    await f({ registry, tools: { ...real, ...tools }, tmpDir, warmupMs: 100, durationMs: 300, rounds: 1, seed: 't', profileDir: null, log: (l) => lines.push(l) }, lines)
    assert.equal(registry.live, 0, 'every process of the suite has exited')
  } finally {
    registry.killAllSync()
    rmSync(tmpDir, { recursive: true, force: true })
  }
}

function shapeOf(suite: Suite): string[] {
  const r: BenchResults = {
    schema: RESULTS_SCHEMA, kind: 'quick', command: 'test', warnings: [], suites: [suite],
    machine: {
      cpu_model: 'x', cores: 2, node_version: 'v24', platform: 'linux', kernel: 'k', load_avg_before: [0, 0, 0], load_avg_after: [0, 0, 0],
      date: 'd', pinning: { taskset: true, client_core: 0, target_core: 1, note: null }, tools: { nginx: null, wrk: null, autocannon: null }
    }
  }
  return checkResultsShape(r)
}

test('without nginx the req/s suite is skipped with the install hint', async () => {
  await withContext({ nginx: null }, async (ctx, lines) => {
    const s = await runReqPerSSuite(ctx)
    assert.equal(s.status, 'skipped')
    assert.match(s.note ?? '', /apt-get install wrk nginx-light/)
    assert.ok(lines.some((l) => l.includes('apt-get install wrk nginx-light')))
    assert.deepEqual(shapeOf(s), [])
  })
})

test('without nginx the schedule-lag suite measures against the Node target instead', async () => {
  await withContext({ nginx: null }, async (ctx) => {
    const s = await runScheduleLagSuite(ctx)
    assert.equal(s.status, 'ok', JSON.stringify(s.rates.map((r) => r.note)))
    assert.match(s.note ?? '', /nginx not found/)
    assert.deepEqual(s.rates.map((r) => [r.rate, r.client]), [[1000, 'core 0'], [5000, 'core 0'], [1000, 'host']])
    for (const r of s.rates) {
      assert.equal(r.status, 'ok', r.note ?? '')
      assert.ok((r.sent ?? 0) > 0)
      assert.ok(r.schedule_lag_ms.p50 !== null)
      assert.ok(r.cpu_probe !== null)
    }
    assert.equal(s.goals.length, 1)
    assert.equal(typeof s.goals[0].met, 'boolean')
    assert.deepEqual(shapeOf(s), [])
  })
})

test('the SSE suite measures both readers and their ratio', async () => {
  await withContext({}, async (ctx) => {
    const s = await runSseSuite(ctx)
    assert.equal(s.status, 'ok')
    assert.deepEqual(s.clients.map((c) => [c.name, c.status, c.note]), [['loadmesh', 'ok', null], ['raw reader', 'ok', null]])
    assert.ok((s.ratios.loadmesh_over_raw ?? 0) > 0)
    assert.deepEqual(shapeOf(s), [])
  })
})

test('without wrk the req/s suite still compares loadmesh with autocannon', { skip: detectTools().nginx === null ? 'nginx not installed' : false }, async () => {
  await withContext({ wrk: null }, async (ctx) => {
    const s = await runReqPerSSuite(ctx)
    assert.equal(s.status, 'ok')
    const byName = new Map(s.clients.map((c) => [c.name, c]))
    assert.equal(byName.get('loadmesh')?.status, 'ok')
    assert.equal(byName.get('autocannon')?.status, 'ok')
    assert.equal(byName.get('wrk')?.status, 'skipped')
    assert.match(byName.get('wrk')?.note ?? '', /apt-get install wrk nginx-light/)
    assert.ok(s.ratios.loadmesh_over_autocannon !== null)
    assert.equal(s.ratios.loadmesh_over_wrk, null)
    assert.equal(typeof s.goals[0].met, 'boolean')
    assert.deepEqual(shapeOf(s), [])
  })
})

test('the replay suite replays the Azure trace window through the CLI\'s run and judges its maximum lag', { skip: detectTools().nginx === null ? 'nginx not installed' : false }, async () => {
  await withContext({}, async (ctx) => {
    const s = await runReplayLagSuite(ctx)
    assert.equal(s.status, 'ok', s.note ?? '')
    assert.equal(s.window, '10m..14m', 'a short run replays the 4-minute window')
    assert.equal(s.scheduled, 1274, 'every record of the window is due once')
    assert.equal((s.sent ?? 0) + (s.dropped ?? 0), 1274)
    assert.equal(s.failed, 0)
    const max = s.schedule_lag_ms.max as number
    assert.ok((s.over_2ms ?? -1) >= 0 && (s.over_2ms ?? 0) <= (s.over_1ms ?? 0))
    assert.equal(s.over_2ms === 0, max <= 2, 'requests over 2 ms exist exactly when the maximum is over 2 ms')
    assert.equal(s.goals[0].met, max <= 2)
    assert.equal(s.baselines?.spin.scheduled, 1274, 'the baselines meet the same due times')
    assert.equal(s.baselines?.sleep.scheduled, 1274)
    assert.ok((s.baselines?.sleep.lag_ms.max ?? -1) >= 0)
    assert.deepEqual(shapeOf(s), [])
  })
})
