import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseProcPidStat, parseProcStat, startCoreUsage } from '../src/core-usage.ts'

const stat = (c0: number[], c1: number[]): string =>
  `cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 ${c0.join(' ')} 0 0\ncpu1 ${c1.join(' ')} 0 0\nintr 1 2 3\n`
// user nice system idle iowait irq softirq steal
const pidStat = (ticks: [number, number]): string =>
  `4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 ${ticks[0]} ${ticks[1]} 0 0 20 0 1 0 100 1000 10`

test('/proc/stat per-CPU lines become busy, steal and total ticks', () => {
  const cpus = parseProcStat(stat([100, 0, 50, 800, 10, 5, 5, 30], [10, 0, 10, 980, 0, 0, 0, 0]))
  assert.deepEqual(cpus[0], { busy: 160, steal: 30, total: 1000 })
  assert.deepEqual(cpus[1], { busy: 20, steal: 0, total: 1000 })
  assert.deepEqual(parseProcStat(''), [])
})

test('a process\'s CPU ticks are read past a command name with spaces and parentheses', () => {
  assert.equal(parseProcPidStat(pidStat([120, 30])), 150)
  assert.equal(parseProcPidStat('garbage'), null)
})

test('other work on a core is its busy time minus the time of our own process there', () => {
  const files = new Map<string, string>([
    ['/proc/stat', stat([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0])],
    ['/proc/7/stat', pidStat([0, 0])]
  ])
  const meter = startCoreUsage(7, (p) => files.get(p) ?? null)
  // 10 s later (1000 ticks per core): core 0 busy 900 ticks (of which the client 8.5 s), 20 stolen;
  // core 1 busy 700 ticks, of which the target 600.
  files.set('/proc/stat', stat([800, 0, 100, 80, 0, 0, 0, 20], [600, 0, 100, 300, 0, 0, 0, 0]))
  files.set('/proc/7/stat', pidStat([550, 50]))
  const u = meter.stop(8500)
  assert.ok(Math.abs((u.other_core0 ?? -1) - 0.05) < 1e-9)
  assert.ok(Math.abs((u.other_core1 ?? -1) - 0.1) < 1e-9)
  assert.equal(u.steal_core0, 0.02)
  assert.equal(u.steal_core1, 0)
})

test('without /proc or a target pid the unknowns stay null instead of guessed', () => {
  const none = startCoreUsage(null, () => null).stop(100)
  assert.deepEqual(none, { other_core0: null, other_core1: null, steal_core0: null, steal_core1: null })
  const noTarget = startCoreUsage(null, (p) => (p === '/proc/stat' ? stat([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]) : null))
  // The same counters again: no time passed, so nothing can be said.
  assert.equal(noTarget.stop(0).other_core0, null)
})

test('on this machine the meter reads real counters', { skip: readFileSync('/proc/stat', 'utf8').includes('cpu1') ? false : 'needs /proc and 2 CPUs' }, async () => {
  const meter = startCoreUsage(process.pid)
  await new Promise((r) => setTimeout(r, 120))
  const u = meter.stop(0)
  for (const v of [u.other_core0, u.other_core1, u.steal_core0, u.steal_core1]) assert.ok(v !== null && v >= 0 && v <= 1, String(v))
})
