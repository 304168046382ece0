import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url))

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

test('loadmesh simulate --virtual prints the run summary and writes the report', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'sim-virtual-')), 'r.json')
  const r = await cli(['simulate', '--virtual', '--profile', 'h100-llama3.1-8b-fp8', '--replicas', '2', '--concurrency', '20',
    '--duration', '10s', '--input-tokens', '100', '--output-tokens', '50', '--seed', '5', '--out', out])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /requests {3}scheduled \d+ {2}sent \d+ {2}completed \d+ {2}failed 0/)
  assert.match(r.stdout, /virtual {4}\d+\.\d s simulated in .* profile h100-llama3\.1-8b-fp8, 2 replicas/)
  const report = JSON.parse(readFileSync(out, 'utf8'))
  assert.equal(report.schema, 'loadmesh.report/v1')
  assert.equal(report.config.target, 'virtual:h100-llama3.1-8b-fp8')
  assert.equal(report.config.concurrency, 20)
  assert.equal(report.config.virtual.replicas, 2)
  assert.equal(report.tokens.output_total, report.requests.completed * 50)
})

test('simulate --virtual: a bad profile exits 2 naming it, a missed SLO with --fail-on-slo exits 4', async () => {
  const bad = await cli(['simulate', '--virtual', '--profile', 'no-such-gpu', '--rate', '5'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--profile: profile "no-such-gpu": not a preset/)
  const fixed = await cli(['simulate', '--virtual', '--profile', 'fixed', '--rate', '5'])
  assert.equal(fixed.code, 2)
  assert.match(fixed.stderr, /needs a step profile/)
  const slo = await cli(['simulate', '--virtual', '--rate', '20', '--duration', '5s', '--input-tokens', '100', '--output-tokens', '20', '--slo', 'ttft=1ms', '--fail-on-slo', '--json'])
  assert.equal(slo.code, 4)
  assert.equal(JSON.parse(slo.stdout).slo_gate.pass, false)
})
