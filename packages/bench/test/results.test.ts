import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkResultsShape, failedSuite, renderBenchmarksDoc, renderTerminalSummary, RESULTS_SCHEMA } from '../src/index.ts'
import type { BenchResults, ClientMeasurement, CpuProbe } from '../src/index.ts'

function client(name: string, value: number, cpuS: number): ClientMeasurement {
  return {
    name, status: 'ok', note: null, value, completed: value * 10, failed: 0, wall_s: 10, cpu_s: cpuS, per_cpu_s: (value * 10) / cpuS, cpu_util: cpuS / 10,
    core_usage: { other_core0: 0.01, other_core1: 0.2, steal_core0: 0.002, steal_core1: null },
    rounds: [value * 0.9, value * 1.1]
  }
}

function probe(lost: number): CpuProbe {
  return { duration_s: 2, lost_fraction: lost, gaps_over_1ms_per_s: lost * 100, max_gap_ms: 1 + lost * 100 }
}

function fixture(): BenchResults {
  return {
    schema: RESULTS_SCHEMA,
    kind: 'full',
    command: 'pnpm bench',
    machine: {
      cpu_model: 'Test CPU', cores: 2, node_version: 'v24.9.0', platform: 'linux x64', kernel: '6.1',
      load_avg_before: [0.1, 0.2, 0.3], load_avg_after: [1.9, 1.2, 0.6], date: '2026-01-01T00:00:00.000Z',
      pinning: { taskset: true, client_core: 0, target_core: 1, note: null },
      tools: { nginx: '1.22.1', wrk: '4.1.0', autocannon: '9.0.0' }
    },
    suites: [
      {
        id: 'req-per-s', title: 'Requests', status: 'ok', note: null, load_avg_start: 0.1, cpu_probe: { core0: probe(0.002), core1: probe(0.03) }, target: 'nginx', connections: 64,
        warmup_s: 2, duration_s: 10, rounds: 2, request_bytes: 900,
        clients: [client('loadmesh', 12000, 10), client('autocannon', 15000, 9), { ...client('wrk', 0, 1), status: 'skipped', value: null, note: 'wrk not found: apt-get install wrk nginx-light' }],
        ratios: { loadmesh_over_autocannon: 0.8, loadmesh_over_wrk: null },
        goals: [{ description: 'loadmesh req/s ≥ autocannon req/s', met: false }]
      },
      {
        id: 'sse', title: 'SSE', status: 'ok', note: null, load_avg_start: 1, cpu_probe: { core0: probe(0.001), core1: null }, target: 'fast', connections: 32, warmup_s: 2, duration_s: 10, rounds: 2,
        content_chunks_per_response: 256, events_per_response: 259, writes_per_response: 4, bytes_per_response: 50000,
        clients: [client('loadmesh', 300000, 10), client('raw reader', 2000000, 8)],
        ratios: { loadmesh_over_raw: 0.15, loadmesh_over_raw_per_cpu_s: 0.12 }, goals: []
      },
      {
        id: 'schedule-lag', title: 'Lag', status: 'ok', note: null, load_avg_start: 1.2, cpu_probe: { core0: probe(0.002), core1: probe(0.002) }, target: 'nginx', connections: 1024, max_in_flight: 4096,
        warmup_s: 2, duration_s: 10,
        rates: [{
          rate: 1000, status: 'ok', note: null, achieved_rate: 999, scheduled: 9990, sent: 9990, completed: 9990, failed: 0, dropped: 0,
          schedule_lag_ms: { p50: 0.02, p99: 0.8, p999: 2.5, max: 4 }, event_loop_delay_ms: { p99: 1.2, max: 5 }, cpu_util: 0.9,
          core_usage: { other_core0: 0.001, other_core1: null, steal_core0: 0, steal_core1: null },
          cpu_probe: { duration_s: 2, lost_fraction: 0.002, gaps_over_1ms_per_s: 0.5, max_gap_ms: 1.5 }
        }],
        goals: [{ description: 'p99 schedule lag ≤ 1 ms at 1,000 req/s', met: true }]
      }
    ],
    warnings: ['something odd']
  }
}

test('a complete results object has the right shape, and broken ones are reported by field', () => {
  assert.deepEqual(checkResultsShape(fixture()), [])
  assert.deepEqual(checkResultsShape(JSON.parse(JSON.stringify(fixture()))), [], 'survives a JSON round trip')
  const bad = JSON.parse(JSON.stringify(fixture())) as Record<string, any>
  bad.schema = 'other'
  bad.machine.load_avg_after = [1]
  bad.suites[0].clients[0].value = 'fast'
  bad.suites[2].rates[0].schedule_lag_ms.p99 = 'low'
  bad.suites[1].goals = [{ met: 'yes' }]
  const problems = checkResultsShape(bad)
  for (const where of ['results.schema', 'results.machine.load_avg_after', 'results.suites[0].clients[0].value', 'results.suites[2].rates[0].schedule_lag_ms', 'results.suites[1].goals']) {
    assert.ok(problems.some((p) => p.startsWith(where)), `expected a problem at ${where}: ${problems.join('; ')}`)
  }
  assert.deepEqual(checkResultsShape(null), ['results: not a JSON object'])
})

test('the doc carries every headline number, the goals with their verdicts, and how to reproduce', () => {
  const doc = renderBenchmarksDoc(fixture())
  assert.match(doc, /^# Benchmarks/)
  assert.match(doc, /pnpm bench\b/)
  assert.match(doc, /pnpm bench -- --quick/)
  assert.match(doc, /\| loadmesh \| 12,000 \| 12,000 \| 100% \| 120,000 \| 0 \| 1\.2% \/ 20\.0% \| 10,800 \/ 13,200 \|/)
  assert.match(doc, /\| autocannon \| 15,000 \|/)
  assert.match(doc, /\| wrk \| skipped \|/)
  assert.match(doc, /loadmesh \/ autocannon: \*\*0\.80×\*\*/)
  assert.match(doc, /\*\*Goal:\*\* loadmesh req\/s ≥ autocannon req\/s\. \*\*NOT met\*\*/)
  assert.match(doc, /\*\*Goal:\*\* p99 schedule lag ≤ 1 ms at 1,000 req\/s\. \*\*met\*\* \(p99 0\.800 ms\)/)
  assert.match(doc, /\| 1,000 \| 999 \| 0\.020 \| 0\.800 \| 2\.500 \| 4\.000 \| 0 \| 0 \| 1\.20 \| 0\.1% \| 0\.2% \|/)
  assert.match(doc, /wrk not found: apt-get install wrk nginx-light/)
  assert.match(doc, /load average before the run \(1, 5, 15 min\) \| 0\.1, 0\.2, 0\.3/)
  assert.match(doc, /shared with other work/)
  assert.match(doc, /It was \*\*busy\*\* during this run: other work took up to 20\.0% of a core during a measured phase, and the probes lost up to 3\.0% of a core/, 'a busy run says so')
  assert.match(doc, /other work took 0\.2% of core 0 and 3\.0% of core 1/)
  assert.match(doc, /lost 0\.2% of core 0 \(longest gap 1\.5 ms\) and other work took 0\.1% of it during the measurement: less than the 1% of requests a p99 may ignore, so the machine did not flatter or spoil this number/)
  assert.match(doc, /rounds of one client differed by up to 22% \(loadmesh in "Requests"\)/)
  assert.match(doc, /- something odd/)
})

test('a lag goal missed on a quiet core is laid at loadmesh\'s door, on a busy one at the machine\'s', () => {
  const r = fixture()
  const lag = r.suites[2]
  assert.equal(lag.id, 'schedule-lag')
  if (lag.id !== 'schedule-lag') return
  lag.rates[0].schedule_lag_ms.p99 = 3.5
  lag.goals[0].met = false
  assert.match(renderBenchmarksDoc(r), /so most of this lag is loadmesh's own\./)
  lag.rates[0].core_usage = { other_core0: 0.04, other_core1: null, steal_core0: 0, steal_core1: null }
  assert.match(renderBenchmarksDoc(r), /this p99 measures the machine at least as much as loadmesh\. The p50 \(0\.020 ms\)/)
})

test('a quiet run is called quiet, and the terminal summary shows the same ratios', () => {
  const quiet = fixture()
  quiet.suites[0].cpu_probe.core1 = probe(0.004)
  for (const s of quiet.suites) {
    if (s.id !== 'schedule-lag' && s.id !== 'simulator-scale' && s.id !== 'mesh' && s.id !== 'replay-lag') for (const c of s.clients) c.core_usage = { other_core0: 0.003, other_core1: 0.001, steal_core0: 0, steal_core1: 0.001 }
  }
  assert.match(renderBenchmarksDoc(quiet), /A quiet run: other work took up to 0\.3% of a core during a measured phase, and the probes lost up to 0\.4% of a core, in gaps of up to 1\.5 ms\./)
  const text = renderTerminalSummary(fixture())
  assert.match(text, /loadmesh \/ autocannon 0\.80×/)
  assert.match(text, /loadmesh \/ raw reader 0\.15× \(chunks\/s\), 0\.12× \(per CPU-second\)/)
  assert.match(text, /goal: p99 schedule lag ≤ 1 ms at 1,000 req\/s: met/)
})

test('a suite that could not run at all still makes a well-formed results file and doc', () => {
  const r = fixture()
  r.suites = [failedSuite('req-per-s', 'boom'), failedSuite('sse', 'boom'), failedSuite('schedule-lag', 'boom')]
  assert.deepEqual(checkResultsShape(r), [])
  const doc = renderBenchmarksDoc(r)
  assert.equal(doc.split('**Suite failed**: boom').length - 1, 3)
  assert.match(doc, /No goals were measured in this run\./)
})
