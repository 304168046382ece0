import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from './helpers/cli.ts'
import { killAll, startAgent, startCli } from './helpers/processes.ts'

// 5 agent processes + a simulator process + a controller at 200 req/s for 20 s, on loopback.
const tmp = await mkdtemp(join(tmpdir(), 'loadmesh-cluster-'))
after(async () => { killAll(); await rm(tmp, { recursive: true, force: true }) })

const TIMING = ['--heartbeat', '250ms', '--dead-after', '1500ms']
const RATE = 200
const SECONDS = 20
const EXPECTED = RATE * SECONDS

interface Agent { completed: number; share: number | null; peer_id: string; windows: number; live: boolean | null; counters: { completed: number } }

async function cluster (name: string): Promise<{ key: string; target: string; agents: Array<Awaited<ReturnType<typeof startAgent>>> }> {
  const key = join(tmp, `${name}.key`)
  assert.equal((await runCli(['keygen', '--out', key], { timeoutMs: 20_000 })).code, 0)
  const sim = startCli(['simulate', '--port', '0', '--sim-ttft', '20ms', '--sim-itl', '2ms'])
  const target = (await sim.waitFor(/listening on (http:\/\/\S+)/))[1]
  const common = (i: number): string[] => ['--swarm-key', key, '--identity', join(tmp, `${name}-${i}.id`), '--mesh', name, ...TIMING]
  const first = await startAgent(common(0))
  const rest = await Promise.all([1, 2, 3, 4].map(async (i) => await startAgent([...common(i), '--seeds', first.seed])))
  return { key, target, agents: [first, ...rest] }
}

function controller (key: string, seed: string, target: string, name: string, out: string): ReturnType<typeof startCli> {
  return startCli(['run', '--seeds', seed, '--swarm-key', key, '--mesh', name, '--listen', '/ip4/127.0.0.1/tcp/0', ...TIMING,
    '--target', target, '--model', 'loadmesh-sim', '--rate', String(RATE), '--duration', `${SECONDS}s`, '--arrival', 'constant', '--seed', '3',
    '--output-tokens', 'fixed:8', '--input-tokens', 'fixed:32', '--min-agents', '5', '--out', out], 90_000)
}

test('5 agents + `run --seeds` at 200 req/s for 20 s: totals, per-agent shares, and `results` through another agent', async (t) => {
  const { key, target, agents } = await cluster('b')
  const out = join(tmp, 'b.json')
  const ctl = controller(key, agents[0].seed, target, 'b', out)
  assert.equal(await ctl.exited(), 0, ctl.stderr() + ctl.stdout())
  const report = JSON.parse(await readFile(out, 'utf8'))
  const completed = report.requests.completed as number
  t.diagnostic(`completed ${completed} of ${EXPECTED}; per agent: ${report.agents.map((a: Agent) => a.counters.completed).join(', ')}; coverage: ${report.coverage.text}`)
  assert.ok(Math.abs(completed - EXPECTED) <= EXPECTED * 0.03, `completed ${completed}, expected ${EXPECTED} ± 3%`)
  assert.equal(report.agents.length, 5)
  for (const a of report.agents as Agent[]) {
    const want = EXPECTED * (a.share ?? 0)
    assert.ok(Math.abs(a.counters.completed - want) <= want * 0.15, `${a.peer_id} completed ${a.counters.completed}, share ${a.share} → ${want}`)
  }
  const sum = (report.agents as Agent[]).reduce((s, a) => s + a.counters.completed, 0)
  assert.equal(sum, completed)

  const again = join(tmp, 'b-results.json')
  const r = await runCli(['results', '--run', report.run_id, '--seeds', agents[3].seed, '--swarm-key', key, '--mesh', 'b', '--listen', '/ip4/127.0.0.1/tcp/0', ...TIMING, '--out', again], { timeoutMs: 40_000 })
  assert.equal(r.code, 0, r.stderr)
  const viaOther = JSON.parse(await readFile(again, 'utf8'))
  assert.deepEqual(viaOther.requests, report.requests)
  // `results` joined after the run: it learns the plan and epochs (so each peer's share) from the reconcile.
  assert.deepEqual((viaOther.agents as Agent[]).map((a) => [a.peer_id, a.counters.completed, a.share]), (report.agents as Agent[]).map((a) => [a.peer_id, a.counters.completed, a.share]))
  for (const a of viaOther.agents as Agent[]) assert.equal(a.share, 0.2)
  assert.deepEqual(viaOther.rebalances, report.rebalances)
  for (const a of agents) a.proc.child.kill('SIGTERM')
})

test('SIGKILL one of 5 agents at t = 10 s: the survivors take its share, its windows stay, coverage names what is missing', async (t) => {
  const { key, target, agents } = await cluster('c')
  const out = join(tmp, 'c.json')
  const ctl = controller(key, agents[0].seed, target, 'c', out)
  await ctl.waitFor(/published to 5 agent\(s\)/, 60_000)
  // T0 is 3 s after publication; kill at T0 + 10 s.
  await new Promise((r) => setTimeout(r, 13_000))
  const victim = agents[4]
  victim.proc.child.kill('SIGKILL')
  assert.equal(await ctl.exited(), 0, ctl.stderr() + ctl.stdout())
  const report = JSON.parse(await readFile(out, 'utf8'))
  const completed = report.requests.completed as number
  const dead = (report.agents as Agent[]).find((a) => a.peer_id === victim.peerId)
  t.diagnostic(`completed ${completed} of ${EXPECTED}; dead agent ${dead?.counters.completed} in ${dead?.windows} windows; epochs start at ${report.rebalances.map((r: { start_ms: number }) => r.start_ms).join(', ')} ms; per agent: ${(report.agents as Agent[]).map((a) => a.counters.completed).join(', ')}; coverage: ${report.coverage.text}`)
  // Without a takeover the total is at most 10 s × 200 + 10 s × 160 = 3600. What is lost: the
  // detection (--dead-after 1.5 s after its last heartbeat) at the victim's 40 req/s, plus its
  // unpublished last moments (≤ one 250 ms heartbeat): about 70 requests, 1.8% (measured on a quiet
  // machine: docs/architecture.md). The survivors start its share the moment everyone agrees it died.
  // On this 2-core machine shared with other work, a survivor can stall past --dead-after, be
  // declared dead and rejoin: each such false death moves shares twice, and a takeover epoch that
  // reaches a stalled survivor late starts for it when it arrives. The 5% is asserted for
  // a run whose only departure was the victim; otherwise the takeover itself is.
  t.diagnostic(`rebalances: ${JSON.stringify((report.rebalances as Array<Record<string, unknown>>).map((r) => ({ ...r, members: undefined })))}`)
  const departures = (report.rebalances as Array<{ left: string[] }>).flatMap((r) => r.left)
  const falseDeaths = departures.filter((p) => p !== victim.peerId)
  t.diagnostic(falseDeaths.length === 0 ? 'one departure (the victim): the 5% bound applies' : `false deaths under load: ${falseDeaths.join(', ')}; asserting the takeover bound (> 3650) instead of 5%`)
  const floor = falseDeaths.length === 0 ? EXPECTED * 0.95 : 3650
  assert.ok(completed >= floor && completed <= EXPECTED * 1.03, `completed ${completed}, expected ≥ ${floor} and ≤ ${EXPECTED} + 3%`)
  for (const a of (report.agents as Agent[]).filter((x) => x !== dead)) {
    assert.ok(a.counters.completed > 810, `survivor ${a.peer_id} completed ${a.counters.completed}: no more than its epoch-0 share of 800, so it took over nothing`)
  }
  assert.ok(dead !== undefined, 'the dead agent is in the report')
  assert.equal(dead.live, false)
  // About 10 s at 40 req/s before the kill, less what was in its unpublished last window.
  assert.ok(dead.windows >= 8 && dead.counters.completed >= 300, `dead agent kept ${dead.windows} windows, ${dead.counters.completed} completed`)
  // The coverage line names the dead peer's missing windows (after its last publication, until the
  // survivors took its share over) and the windows of it that were kept.
  assert.match(report.coverage.text, new RegExp(`peer ${victim.peerId} \\(dead\\) windows? ${dead.windows}(-\\d+)? missing`))
  assert.match(report.coverage.text, new RegExp(`peer ${victim.peerId} \\(dead\\) windows 0-${dead.windows - 1} kept`))
  // Its departure is a recorded rebalance, and no epoch after it counts on it. (On a loaded machine
  // a slow agent can also be declared dead and rejoin: more rebalances, but still this one.)
  const rebalances = report.rebalances as Array<{ left: string[]; members: Array<{ peer_id: string }> }>
  assert.ok(rebalances.some((r) => r.left.includes(victim.peerId)), JSON.stringify(rebalances))
  assert.equal(rebalances.at(-1)?.members.some((m) => m.peer_id === victim.peerId), false)
  const sum = (report.agents as Agent[]).reduce((s, a) => s + a.counters.completed, 0)
  assert.equal(sum, completed)
  for (const a of agents) a.proc.child.kill('SIGTERM')
})
