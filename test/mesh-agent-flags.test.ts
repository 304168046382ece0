import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreateIdentity, peerIdOf } from '@loadmesh/mesh'
import { runCli } from './helpers/cli.ts'
import { killAll, startAgent } from './helpers/processes.ts'

// The agent flags a user sets on each host: --weight, --max-rate, --simulator, --controllers.
const tmp = await mkdtemp(join(tmpdir(), 'loadmesh-agent-flags-'))
after(async () => { killAll(); await rm(tmp, { recursive: true, force: true }) })

const TIMING = ['--heartbeat', '250ms', '--dead-after', '1500ms']

interface Agent { peer_id: string; share: number | null; counters: { scheduled: number; sent: number; completed: number; dropped: number; failed: number } }

async function swarmKey (name: string): Promise<string> {
  const key = join(tmp, `${name}.key`)
  assert.equal((await runCli(['keygen', '--out', key], { timeoutMs: 20_000 })).code, 0)
  return key
}

function runArgs (key: string, mesh: string, seed: string, target: string, extra: string[]): string[] {
  return ['run', '--seeds', seed, '--swarm-key', key, '--mesh', mesh, '--listen', '/ip4/127.0.0.1/tcp/0', ...TIMING,
    '--target', target, '--model', 'loadmesh-sim', '--arrival', 'constant', '--seed', '5',
    '--output-tokens', 'fixed:4', '--input-tokens', 'fixed:16', ...extra]
}

test('--simulator serves the simulator; --weight sets the shares; --max-rate caps an agent (the excess is dropped and counted)', async () => {
  const key = await swarmKey('w')
  const common = (i: number): string[] => ['--swarm-key', key, '--identity', join(tmp, `w-${i}.id`), '--mesh', 'w', ...TIMING]
  const sim = await startAgent([...common(0), '--simulator', '--sim-port', '0', '--sim-ttft', '10ms', '--sim-itl', '1ms'])
  const url = /loadmesh simulator listening on (http:\/\/\S+)/.exec(sim.proc.stderr())?.[1]
  assert.ok(url !== undefined, sim.proc.stderr())
  const models = await (await fetch(`${url}/v1/models`)).json() as { data: Array<{ id: string }> }
  assert.deepEqual(models.data.map((m) => m.id), ['loadmesh-sim'])
  const heavy = await startAgent([...common(1), '--seeds', sim.seed, '--weight', '3'])
  const capped = await startAgent([...common(2), '--seeds', sim.seed, '--max-rate', '5'])

  // 50 req/s for 4 s over weights 1 : 3 : 1 → 10, 30 and 10 req/s; the capped agent sends 5 of its 10.
  const out = join(tmp, 'w.json')
  const r = await runCli(runArgs(key, 'w', sim.seed, url, ['--rate', '50', '--duration', '4s', '--min-agents', '3', '--out', out]), { timeoutMs: 60_000 })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const report = JSON.parse(await readFile(out, 'utf8'))
  const by = new Map((report.agents as Agent[]).map((a) => [a.peer_id, a]))
  const near = (got: number | undefined, want: number, what: string): void => assert.ok(got !== undefined && Math.abs(got - want) <= 2, `${what}: ${got}, expected ${want} ± 2`)
  assert.equal(by.get(sim.peerId)?.share, 0.2)
  assert.equal(by.get(heavy.peerId)?.share, 0.6)
  assert.equal(by.get(capped.peerId)?.share, 0.2)
  near(by.get(sim.peerId)?.counters.completed, 40, 'weight 1 agent')
  near(by.get(heavy.peerId)?.counters.completed, 120, 'weight 3 agent')
  near(by.get(capped.peerId)?.counters.scheduled, 40, 'capped agent scheduled')
  near(by.get(capped.peerId)?.counters.sent, 20, 'capped agent sent')
  near(by.get(capped.peerId)?.counters.dropped, 20, 'capped agent dropped')
  assert.equal(report.requests.failed, 0)
})

test('--controllers: a plan from a peer not listed is refused and counted; one from a listed peer runs', async () => {
  const key = await swarmKey('c')
  const ctlIdentity = join(tmp, 'c-controller.id')
  const allowed = peerIdOf(await loadOrCreateIdentity(ctlIdentity))
  const agent = await startAgent(['--swarm-key', key, '--identity', join(tmp, 'c-0.id'), '--mesh', 'c', ...TIMING,
    '--controllers', allowed, '--simulator', '--sim-port', '0', '--sim-ttft', '10ms', '--sim-itl', '1ms',
    '--metrics-port', '0', '--metrics-host', '127.0.0.1'])
  const url = /loadmesh simulator listening on (http:\/\/\S+)/.exec(agent.proc.stderr())?.[1] as string
  const metricsUrl = /metrics on (http:\/\/\S+)/.exec(agent.proc.stderr())?.[1] as string
  const run = ['--rate', '10', '--duration', '2s', '--min-agents', '1']

  // A fresh controller identity: the agent drops the plan, nothing is sent, and the run says so.
  const stranger = await runCli(runArgs(key, 'c', agent.seed, url, run), { timeoutMs: 60_000 })
  assert.equal(stranger.code, 3, stranger.stderr + stranger.stdout)
  assert.match(stranger.stdout, /no agent sent anything/)
  const text = await (await fetch(metricsUrl)).text()
  assert.match(text, /^loadmesh_rejected_messages_total\{reason="not-controller"\} [1-9]\d*$/m, text)
  assert.equal(agent.proc.child.exitCode, null)

  // The listed identity: accepted and executed.
  const out = join(tmp, 'c.json')
  const ok = await runCli(runArgs(key, 'c', agent.seed, url, [...run, '--identity', ctlIdentity, '--out', out]), { timeoutMs: 60_000 })
  assert.equal(ok.code, 0, ok.stderr + ok.stdout)
  const report = JSON.parse(await readFile(out, 'utf8'))
  assert.ok(Math.abs(report.requests.completed - 20) <= 2, `completed ${report.requests.completed}, expected 20`)
})
