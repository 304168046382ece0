import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from './helpers/cli.ts'

const tmp = await mkdtemp(join(tmpdir(), 'loadmesh-cli-'))
const FAST = ['--sim-ttft', '20ms', '--sim-itl', '2ms', '--output-tokens', 'fixed:8', '--input-tokens', 'fixed:32', '--quiet']

test('rehearse writes a loadmesh.report/v1 JSON report and exits 0', async () => {
  const out = join(tmp, 'ok.json')
  const r = await runCli(['rehearse', '--duration', '2s', '--rate', '15', '--seed', '42', '--out', out, ...FAST])
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const report = JSON.parse(await readFile(out, 'utf8'))
  assert.equal(report.schema, 'loadmesh.report/v1')
  assert.equal(report.config.seed, '42')
  assert.equal(report.config.rate, 15)
  assert.equal(report.requests.failed, 0)
  assert.equal(report.requests.completed, report.requests.sent)
  assert.ok(report.requests.sent >= 15, `sent ${report.requests.sent}`)
  for (const k of ['schedule_lag', 'ttft', 'ttft_service', 'itl', 'tpot', 'e2e', 'e2e_service']) {
    assert.ok(report.latency_ms[k].count > 0, k)
    assert.ok(typeof report.histograms[k] === 'string', k)
  }
  assert.match(r.stdout, /metric \(ms\)/)
  assert.match(r.stdout, /ttft\s+\d+/)
})

test('the same seed sends the same requests', async () => {
  const a = join(tmp, 'seed-a.json')
  const b = join(tmp, 'seed-b.json')
  const args = ['rehearse', '--duration', '1s', '--rate', '20', '--seed', '9', '--arrival', 'poisson', ...FAST.filter((x) => x !== 'fixed:32' && x !== '--input-tokens'), '--input-tokens', 'uniform:min=10,max=500']
  const [ra, rb] = [await runCli([...args, '--out', a]), await runCli([...args, '--out', b])]
  assert.equal(ra.code, 0, ra.stderr)
  assert.equal(rb.code, 0, rb.stderr)
  const [x, y] = [JSON.parse(await readFile(a, 'utf8')), JSON.parse(await readFile(b, 'utf8'))]
  assert.equal(x.requests.scheduled, y.requests.scheduled)
  assert.equal(x.tokens.input_total, y.tokens.input_total)
})

test('a bad spec exits 2 and names the flag and the bad part', async () => {
  const r = await runCli(['rehearse', '--input-tokens', 'lognormal:mean=abc,stdev=5', '--duration', '1s'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--input-tokens: "lognormal:mean=abc,stdev=5": mean/)
  const r2 = await runCli(['rehearse', '--rate', '5', '--concurrency', '3'])
  assert.equal(r2.code, 2)
  assert.match(r2.stderr, /exclusive/)
  const r3 = await runCli(['rehearse', '--rat', '5'])
  assert.equal(r3.code, 2)
  assert.match(r3.stderr, /unknown flag.*--rat/i)
  const r4 = await runCli(['run', '--rate', '5'])
  assert.equal(r4.code, 2)
  assert.match(r4.stderr, /--target is required/)
})

test('a plan file supplies settings, flags override it, and a typo is reported with its line', async () => {
  const plan = join(tmp, 'plan.yaml')
  await writeFile(plan, '# rehearsal plan\nduration: 1s\nrate: 12\nseed: 5\noutput-tokens: fixed:4\nstream: false\n')
  const out = join(tmp, 'plan.json')
  const r = await runCli(['rehearse', '--plan', plan, '--rate', '8', '--out', out, '--quiet', '--sim-ttft', '10ms'])
  assert.equal(r.code, 0, r.stderr)
  const report = JSON.parse(await readFile(out, 'utf8'))
  assert.equal(report.config.rate, 8, 'the flag overrides the plan')
  assert.equal(report.config.seed, '5')
  assert.equal(report.config.stream, false)
  assert.equal(report.config.duration_ms, 1000)
  const bad = join(tmp, 'bad-plan.yaml')
  await writeFile(bad, 'duration: 1s\nrat: 12\n')
  const r2 = await runCli(['rehearse', '--plan', bad])
  assert.equal(r2.code, 2)
  assert.match(r2.stderr, /bad-plan\.yaml:2:1: unknown setting "rat"/)
  assert.match(r2.stderr, /did you mean "rate"/)
})

test('failed requests make the run exit 3 unless --max-error-rate allows them', async () => {
  let n = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      n++
      // Every fourth request fails.
      if (n % 4 === 0) { res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}'); return }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    const out = join(tmp, 'errors.json')
    const args = ['run', '--target', target, '--model', 'm', '--no-stream', '--duration', '1s', '--rate', '20', '--arrival', 'constant', '--quiet', '--input-tokens', 'fixed:8', '--output-tokens', 'fixed:1']
    const r = await runCli([...args, '--out', out])
    assert.equal(r.code, 3, r.stderr + r.stdout)
    assert.match(r.stdout, /gate failed: error rate/)
    const report = JSON.parse(await readFile(out, 'utf8'))
    assert.equal(report.requests.errors.http_500, report.requests.failed)
    assert.ok(report.requests.failed >= 4)
    const ok = await runCli([...args, '--max-error-rate', '0.5'])
    assert.equal(ok.code, 0, ok.stderr + ok.stdout)
  } finally {
    server.close()
  }
})

test('--fail-on-slo exits 4 when the SLO is missed, 0 when met', async () => {
  const miss = await runCli(['rehearse', '--duration', '1s', '--rate', '10', '--slo', 'ttft=10ms', '--fail-on-slo', ...FAST])
  assert.equal(miss.code, 4, miss.stderr + miss.stdout)
  assert.match(miss.stdout, /SLO gate \(p99\): FAIL/)
  const met = await runCli(['rehearse', '--duration', '1s', '--rate', '10', '--slo', 'ttft=2s,e2e=5s', '--fail-on-slo', ...FAST])
  assert.equal(met.code, 0, met.stderr + met.stdout)
})

test('closed loop with --concurrency and --json output', async () => {
  const r = await runCli(['rehearse', '--duration', '1s', '--concurrency', '4', '--json', ...FAST])
  assert.equal(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout)
  assert.equal(report.config.mode, 'closed')
  assert.equal(report.throughput.target_rate, null)
  // 4 workers, ~36 ms per request (20 ms + 8 tokens × 2 ms), for 1 s: about 100 requests.
  assert.ok(report.requests.completed >= 40, `completed ${report.requests.completed}`)
})

test('Ctrl-C stops the run, keeps what was measured and exits 130', async () => {
  const out = join(tmp, 'interrupted.json')
  // Interrupted once requests have completed (the progress line after 5 s of sending), not after a
  // fixed time from spawn: a slow boot on a busy machine would leave nothing measured to keep.
  let interrupted = false
  const r = await runCli(['rehearse', '--duration', '60s', '--rate', '20', '--out', out, ...FAST.filter((f) => f !== '--quiet')], {
    onStderr: (all, kill) => {
      if (interrupted || !/completed [1-9]/.test(all)) return
      interrupted = true
      kill('SIGINT')
    },
    onSpawn: (kill) => { setTimeout(() => { if (!interrupted) { interrupted = true; kill('SIGINT') } }, 30_000) }
  })
  assert.equal(r.code, 130, r.stderr)
  const report = JSON.parse(await readFile(out, 'utf8'))
  assert.equal(report.interrupted, true)
  assert.ok(report.requests.completed > 5)
  assert.equal(report.requests.completed + report.requests.failed, report.requests.sent)
})
