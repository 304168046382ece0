import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from './helpers/cli.ts'
import { killAll, startAgent } from './helpers/processes.ts'

// `loadmesh agent --simulator` takes the simulator's engine flags as `simulate` and `rehearse` do.
const tmp = await mkdtemp(join(tmpdir(), 'loadmesh-sim-agent-'))
after(async () => { killAll(); await rm(tmp, { recursive: true, force: true }) })
const key = join(tmp, 'swarm.key')
assert.equal((await runCli(['keygen', '--out', key], { timeoutMs: 20_000 })).code, 0)

test('agent --simulator --profile serves the step engine with its replicas, routing, queue limit, faults and tokens per frame', async () => {
  const agent = await startAgent([
    '--swarm-key', key, '--identity', join(tmp, 'a.id'), '--mesh', 'sim-agent', '--heartbeat', '250ms', '--dead-after', '1500ms',
    '--simulator', '--sim-port', '0', '--profile', 'h100-llama3.1-8b-fp8', '--replicas', '3', '--routing', 'least-loaded',
    '--max-waiting', '40', '--faults', '[{"kind":"http_503","rate":0.01,"retry_after":2}]', '--tokens-per-chunk', '2'
  ])
  try {
    const m = /loadmesh simulator listening on (http:\/\/\S+) \((.*)\)/.exec(agent.proc.stderr())
    assert.ok(m !== null, agent.proc.stderr())
    const url = m[1]
    assert.equal(m[2], 'profile h100-llama3.1-8b-fp8, 3 replicas, max 40 waiting, 1 fault')
    // A streamed answer in frames of two tokens (the last may be shorter), from the step engine.
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-loadmesh-fault': 'none' },
      body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 9, stream: true })
    })
    assert.equal(res.status, 200)
    const texts = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)).choices[0]?.text as string)
      .filter((t) => typeof t === 'string' && t !== '')
    assert.deepEqual(texts.map((t) => t.split(' ').filter((w) => w !== '').length), [2, 2, 2, 2, 1])
    const metrics = await (await fetch(`${url}/metrics`)).text()
    // One replica gauge per simulated replica: the fixed engine would have one.
    assert.equal([...metrics.matchAll(/^loadmesh_sim_replica_up\{[^}]*replica="(\d)"\} 1$/gm)].length, 3)
    assert.match(metrics, /^vllm:generation_tokens_total\{model_name="loadmesh-sim",engine="0"\} 9$/m)
    const faults = await (await fetch(`${url}/admin/faults`)).json() as { rates: Array<{ kind: string; rate: number }> }
    assert.deepEqual(faults.rates.map((r) => [r.kind, r.rate]), [['http_503', 0.01]])
  } finally {
    agent.proc.child.kill('SIGTERM')
    await agent.proc.exited()
  }
})

test('agent: simulator flags without --simulator, or a bad profile, are usage errors (exit 2) naming the flag', async () => {
  const common = ['agent', '--swarm-key', key, '--identity', join(tmp, 'b.id'), '--listen', '/ip4/127.0.0.1/tcp/0']
  const noSim = await runCli([...common, '--profile', 'h100-llama3.1-8b-fp8'], { timeoutMs: 20_000 })
  assert.equal(noSim.code, 2, noSim.stderr)
  assert.match(noSim.stderr, /--profile: configures the embedded simulator; add --simulator/)
  const bad = await runCli([...common, '--simulator', '--sim-port', '0', '--profile', 'no-such-gpu'], { timeoutMs: 20_000 })
  assert.equal(bad.code, 2, bad.stderr)
  assert.match(bad.stderr, /--profile: .*no-such-gpu/)
  const fixedReplicas = await runCli([...common, '--simulator', '--sim-port', '0', '--replicas', '2'], { timeoutMs: 20_000 })
  assert.equal(fixedReplicas.code, 2, fixedReplicas.stderr)
  assert.match(fixedReplicas.stderr, /--replicas: the fixed engine has one replica/)
})
