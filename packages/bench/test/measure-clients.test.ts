import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createProcessRegistry } from '../src/index.ts'
import type { ClientMeasurement } from '../src/index.ts'
import { measureClients, measured } from '../src/suites/context.ts'
import type { BenchContext, ClientSpec } from '../src/suites/context.ts'

function ctx(rounds: number, lines: string[]): BenchContext {
  return {
    registry: createProcessRegistry({ taskset: null, cores: 1 }),
    tools: { taskset: null, nginx: null, wrk: null, bash: null, setpriv: null },
    tmpDir: '/nonexistent', warmupMs: 0, durationMs: 9000, rounds, seed: 's', profileDir: null, log: (l) => lines.push(l)
  }
}

function fake(name: string, order: string[], perRound: (round: number) => { units: number; cpuMs: number; other: number } | Error): ClientSpec {
  return {
    name,
    skip: null,
    async run(durationMs, round): Promise<ClientMeasurement> {
      order.push(`${name}@${round}:${durationMs}`)
      const r = perRound(round)
      if (r instanceof Error) throw r
      return measured(name, {
        units: r.units, completed: r.units, failed: 0, wallMs: durationMs, cpuMs: r.cpuMs,
        usage: { other_core0: r.other, other_core1: 0, steal_core0: 0, steal_core1: 0 }
      })
    }
  }
}

test('clients take turns round by round, each round a share of the measured time, first place rotating', async () => {
  const order: string[] = []
  const lines: string[] = []
  await measureClients(ctx(3, lines), [
    fake('a', order, () => ({ units: 1, cpuMs: 1, other: 0 })),
    fake('b', order, () => ({ units: 1, cpuMs: 1, other: 0 })),
    { name: 'c', skip: 'c not installed', run: () => Promise.reject(new Error('must not run')) }
  ])
  assert.deepEqual(order, ['a@0:3000', 'b@0:3000', 'b@1:3000', 'a@1:3000', 'a@2:3000', 'b@2:3000'])
  assert.ok(lines.some((l) => l.includes('c: skipped: c not installed')))
})

test('rounds add up: rate over all wall time, efficiency over all CPU time, noise weighted by time', async () => {
  const [a, b] = await measureClients(ctx(2, []), [
    fake('a', [], (r) => (r === 0 ? { units: 4500, cpuMs: 4500, other: 0.1 } : { units: 9000, cpuMs: 4500, other: 0.3 })),
    fake('b', [], () => ({ units: 100, cpuMs: 50, other: 0 }))
  ])
  assert.equal(a.status, 'ok')
  assert.equal(a.value, 13500 / 9) // 13,500 units in 9 s of measured wall time
  assert.equal(a.per_cpu_s, 13500 / 9)
  assert.equal(a.cpu_util, 1)
  assert.deepEqual(a.rounds, [1000, 2000])
  assert.ok(Math.abs((a.core_usage?.other_core0 ?? 0) - 0.2) < 1e-12)
  assert.equal(b.completed, 200)
})

test('a failed round is left out and noted; a client without any good round is failed', async () => {
  const [flaky, broken] = await measureClients(ctx(3, []), [
    fake('flaky', [], (r) => (r === 1 ? new Error('connection reset') : { units: 3000, cpuMs: 3000, other: 0 })),
    fake('broken', [], () => new Error('no such target'))
  ])
  assert.equal(flaky.status, 'ok')
  assert.deepEqual(flaky.rounds, [1000, 1000])
  assert.match(flaky.note ?? '', /1 of 3 rounds failed: connection reset/)
  assert.equal(broken.status, 'failed')
  assert.equal(broken.note, 'no such target')
  assert.equal(broken.value, null)
})
