import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { BIN, runCli } from './helpers/cli.ts'
import { createNetnsLab, netnsUnavailable } from './helpers/netns.ts'

const why = netnsUnavailable()
if (why !== null) process.stderr.write(`multi-host test skipped: ${why}\n`)

const children: ChildProcess[] = []
after(() => { for (const c of children) c.kill('SIGKILL') })

/** Resolves with the first stderr match of `re`, rejects on exit or timeout. */
function waitFor (child: ChildProcess, re: RegExp, what: string, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`${what}: no "${re}" within ${timeoutMs} ms; stderr: ${seen}`)), timeoutMs)
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      seen += d
      const m = re.exec(seen)
      if (m !== null) { clearTimeout(timer); resolve(m) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited (${code}): ${seen}`)) })
  })
}

// Three hosts in network namespaces joined by a bridge: agents that reach each other only over
// the (virtual) network, a simulator on host 1 and a controller on host 3.
test('a mesh across three network-namespace hosts runs a plan and reconciles it', { skip: why ?? false, timeout: 120_000 }, async () => {
  const lab = createNetnsLab(3)
  try {
    const dir = await mkdtemp(join(tmpdir(), 'loadmesh-netns-'))
    const key = join(dir, 'swarm.key')
    const k = await runCli(['keygen', '--out', key])
    assert.equal(k.code, 0, k.stderr)
    const [h1, h2, h3] = lab.hosts
    const node = process.execPath
    const sim = lab.spawnIn(0, [node, BIN, 'simulate', '--host', h1.ip, '--port', '8000', '--sim-ttft', '30ms', '--sim-itl', '3ms'])
    children.push(sim)
    await waitFor(sim, /listening on/, 'simulator')
    const agents = lab.hosts.map((h, i) => {
      const a = lab.spawnIn(i, [node, BIN, 'agent', '--listen', `/ip4/${h.ip}/tcp/4001`, '--seeds', `${h1.ip}:4001,${h2.ip}:4001`,
        '--swarm-key', key, '--identity', join(dir, `id-${i}.key`)])
      children.push(a)
      return a
    })
    await Promise.all(agents.map((a, i) => waitFor(a, /listening on/, `agent ${i + 1}`)))
    const out = join(dir, 'report.json')
    const controller = lab.spawnIn(2, [node, BIN, 'run', '--seeds', `${h3.ip}:4001`, '--swarm-key', key, '--min-agents', '3',
      '--target', `http://${h1.ip}:8000`, '--model', 'loadmesh-sim', '--rate', '30', '--arrival', 'constant', '--duration', '5s',
      '--input-tokens', 'fixed:32', '--output-tokens', 'fixed:8', '--quiet', '--out', out])
    children.push(controller)
    let stderr = ''
    controller.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const code = await new Promise<number | null>((resolve) => controller.once('exit', resolve))
    assert.equal(code, 0, stderr)
    const report = JSON.parse(await readFile(out, 'utf8'))
    assert.equal(report.agents.length, 3, JSON.stringify(report.agents))
    const completed = report.requests.completed
    assert.ok(Math.abs(completed - 150) <= 8, `completed ${completed}`)
    const perAgent = report.agents.reduce((s: number, a: { counters: { completed: number } }) => s + a.counters.completed, 0)
    assert.equal(perAgent, completed)
  } finally {
    for (const c of children) c.kill('SIGKILL')
    lab.destroy()
  }
})
