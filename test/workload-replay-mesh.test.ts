import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseWorkloadLog, replaySchedule } from '@loadmesh/workload-models'
import { runCli } from './helpers/cli.ts'

// The Azure LLM inference trace 2023 (conversation), Azure Public Dataset, CC-BY 4.0.
const AZURE = fileURLToPath(new URL('./fixtures/azure-llm-2023-conv.csv', import.meta.url))

test('a replay on a mesh of two agents: each record of the window is sent once, by one agent', async (t) => {
  const out = join(await mkdtemp(join(tmpdir(), 'loadmesh-replay-mesh-')), 'mesh.json')
  const r = await runCli(['rehearse', '--agents', '2', '--replay', AZURE, '--speedup', '60', '--window', '10m..12m', '--no-stream',
    '--sim-ttft', '2ms', '--sim-itl', '0ms', '--quiet', '--out', out], { timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const report = JSON.parse(await readFile(out, 'utf8'))
  const log = parseWorkloadLog(readFileSync(AZURE, 'utf8'), AZURE)
  const expected = [...replaySchedule(log, { speedup: 60, fromMs: 600_000, toMs: 720_000 })].length
  assert.equal(report.requests.sent, expected, 'the agents\' parts add up to the window, none twice')
  assert.equal(report.requests.completed, expected)
  const sent = report.agents.map((a: { counters: { sent: number } }) => a.counters.sent)
  t.diagnostic(`sent per agent: ${sent.join(', ')} of ${expected}; schedule_lag max ${report.latency_ms.schedule_lag.max} ms`)
  assert.equal(sent.length, 2)
  // Equal weights: each agent's part is Binomial(n, 1/2) over the records' hashed keys.
  for (const s of sent) assert.ok(Math.abs(s - expected / 2) < 5 * Math.sqrt(expected / 4), `agent sent ${s} of ${expected}`)
})
