import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from './helpers/cli.ts'
import { killAll, startAgent } from './helpers/processes.ts'

const tmp = await mkdtemp(join(tmpdir(), 'loadmesh-mesh-cli-'))
after(async () => { killAll(); await rm(tmp, { recursive: true, force: true }) })

test('agent without --swarm-key refuses to start (exit 2) and points at keygen; a keygen key is accepted', async () => {
  const r = await runCli(['agent', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(tmp, 'id-x')], { timeoutMs: 20_000 })
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /--swarm-key/)
  assert.match(r.stderr, /loadmesh keygen/)

  const key = join(tmp, 'swarm.key')
  const k = await runCli(['keygen', '--out', key], { timeoutMs: 20_000 })
  assert.equal(k.code, 0, k.stderr)
  assert.match(await readFile(key, 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  const again = await runCli(['keygen', '--out', key], { timeoutMs: 20_000 })
  assert.equal(again.code, 2, 'keygen must not overwrite an existing key')
  assert.match(again.stderr, /--force/)

  const a = await startAgent(['--swarm-key', key, '--identity', join(tmp, 'id-a'), '--metrics-port', '0', '--metrics-host', '127.0.0.1', '--heartbeat', '250ms', '--dead-after', '2s'])
  assert.match(a.peerId, /^12D3Koo/)
  const mesh = ['--seeds', a.seed, '--swarm-key', key, '--listen', '/ip4/127.0.0.1/tcp/0', '--heartbeat', '250ms', '--dead-after', '2s']
  const st = await runCli(['status', ...mesh, '--json'], { timeoutMs: 30_000 })
  assert.equal(st.code, 0, st.stderr)
  const members = JSON.parse(st.stdout).members as Array<{ peer_id: string; role: string; state: string }>
  assert.deepEqual(members.map((m) => [m.peer_id, m.role, m.state]), [[a.peerId, 'agent', 'alive']])
  const metricsUrl = /metrics on (http:\/\/\S+)/.exec(a.proc.stderr())?.[1]
  assert.ok(metricsUrl !== undefined, a.proc.stderr())
  const text = await (await fetch(metricsUrl)).text()
  // The status peer has just left: alive, suspect or dead depending on timing, but counted once.
  const peers = ['alive', 'suspect', 'dead'].map((st) => Number(new RegExp(`^loadmesh_peers\\{state="${st}"\\} (\\d+)$`, 'm').exec(text)?.[1]))
  assert.equal(peers.reduce((x, y) => x + y, 0), 1, text)
  assert.match(text, /^loadmesh_heartbeats_in_total [1-9]\d*$/m)
  assert.match(text, /^loadmesh_requests_in_flight 0$/m)
  // Nothing to stop: exit 5 with a hint.
  const stop = await runCli(['stop', ...mesh], { timeoutMs: 30_000 })
  assert.equal(stop.code, 5, stop.stderr)
  assert.match(stop.stderr, /no agent is running/)
  a.proc.child.kill('SIGTERM')
  assert.equal(await a.proc.exited(), 0)
})

test('rehearse --agents 3: three agent processes split 60 req/s for 5 s; per-agent counts sum to the merged total', async () => {
  const out = join(tmp, 'rehearse-3.json')
  const r = await runCli(['rehearse', '--agents', '3', '--rate', '60', '--duration', '5s', '--arrival', 'constant', '--seed', '7',
    '--sim-ttft', '20ms', '--sim-itl', '2ms', '--output-tokens', 'fixed:8', '--input-tokens', 'fixed:32', '--quiet', '--out', out], { timeoutMs: 60_000 })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const report = JSON.parse(await readFile(out, 'utf8'))
  assert.equal(report.schema, 'loadmesh.mesh-report/v1')
  assert.equal(report.agents.length, 3)
  const sum = report.agents.reduce((s: number, a: { counters: { completed: number } }) => s + a.counters.completed, 0)
  assert.equal(sum, report.requests.completed)
  assert.ok(Math.abs(report.requests.completed - 300) <= 15, `completed ${report.requests.completed}, expected 300 ± 5%`)
  assert.equal(report.requests.failed, 0)
  // Every agent reported each second of the run (a window past the end holds only late responses,
  // so not every agent has one).
  for (const a of report.agents) assert.ok(a.windows >= 5, `${a.peer_id}: ${a.windows} windows (${report.coverage.text})`)
})

test('--fail-on-slo on a mesh run: the merged result misses the SLO, the run exits 4 and says why; a met SLO exits 0', async () => {
  const common = ['rehearse', '--agents', '2', '--rate', '20', '--duration', '2s', '--arrival', 'constant', '--seed', '3',
    '--sim-ttft', '40ms', '--sim-itl', '1ms', '--output-tokens', 'fixed:4', '--input-tokens', 'fixed:16', '--fail-on-slo', '--quiet']
  const out = join(tmp, 'slo-fail.json')
  // Every TTFT is about 40 ms: none meets 5 ms.
  const r = await runCli([...common, '--slo', 'ttft=5ms', '--out', out], { timeoutMs: 60_000 })
  assert.equal(r.code, 4, r.stderr + r.stdout)
  assert.match(r.stdout, /gate failed: SLO p\d+/)
  const report = JSON.parse(await readFile(out, 'utf8'))
  assert.equal(report.requests.failed, 0, 'the requests themselves succeeded: only the SLO failed')
  assert.equal(report.slo_gate.pass, false)
  assert.equal(report.goodput.met, 0)
  // The same run with an SLO it meets passes.
  const ok = await runCli([...common, '--slo', 'ttft=5s'], { timeoutMs: 60_000 })
  assert.equal(ok.code, 0, ok.stderr + ok.stdout)
})
