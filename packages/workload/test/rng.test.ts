import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRng, WorkloadSpecError } from '../src/index.ts'
import { xoshiro128FromState } from '../src/rng.ts'
import { draw, ksContinuous, ksCritical, moments } from './stats.ts'

const take = (f: () => number, n: number): number[] => Array.from({ length: n }, f)

test('the same seed gives the same sequence; different seeds differ', () => {
  const a = createRng('plan-42')
  const b = createRng('plan-42')
  assert.deepEqual(take(() => a.next(), 1000), take(() => b.next(), 1000))
  assert.deepEqual(take(() => a.nextU32(), 1000), take(() => b.nextU32(), 1000))
  const c = createRng('plan-43')
  assert.notDeepEqual(take(() => createRng('plan-42').nextU32(), 10), take(() => c.nextU32(), 10))
})

test('a seed survives a round trip through text: 42, 42n and "42" are the same seed', () => {
  const first = (seed: number | bigint | string): number[] => { const r = createRng(seed); return take(() => r.nextU32(), 20) }
  assert.deepEqual(first(42), first('42'))
  assert.deepEqual(first(42n), first('42'))
  assert.deepEqual(first(2n ** 64n + 1n), first('18446744073709551617'))
  assert.notDeepEqual(first(42), first(43))
  assert.equal(createRng(42).seed, '42')
})

test('bad seeds are refused with a clear error', () => {
  assert.throws(() => createRng(Number.NaN), (e: unknown) => e instanceof WorkloadSpecError && e.code === 'ERR_BAD_SPEC' && /seed/.test(e.message))
  assert.throws(() => createRng(Number.POSITIVE_INFINITY), WorkloadSpecError)
})

test('split depends only on the parent seed and the label, not on what the parent consumed', () => {
  const fresh = createRng('S').split('peer-7')
  const used = createRng('S')
  for (let i = 0; i < 12345; i++) used.next()
  const late = used.split('peer-7')
  assert.deepEqual(take(() => late.nextU32(), 500), take(() => fresh.nextU32(), 500))
  assert.equal(late.seed, 'S/peer-7')
  // Splitting does not consume the parent either.
  const p1 = createRng('S')
  const p2 = createRng('S')
  p1.split('x'); p1.split('y')
  assert.equal(p1.nextU32(), p2.nextU32())
})

test('a stream can be rebuilt from its seed path, and multi-level labels compose', () => {
  const child = createRng('run-1').split('peer-A').split('arrivals')
  assert.equal(child.seed, 'run-1/peer-A/arrivals')
  const rebuilt = createRng(child.seed)
  const again = createRng('run-1').split('peer-A/arrivals')
  const seq = take(() => child.nextU32(), 100)
  assert.deepEqual(take(() => rebuilt.nextU32(), 100), seq)
  assert.deepEqual(take(() => again.nextU32(), 100), seq)
  // numeric labels are spelled in decimal
  assert.deepEqual(take(() => createRng('r').split(3).nextU32(), 10), take(() => createRng('r').split('3').nextU32(), 10))
})

test('sibling streams, parent and child, and swapped labels are all different and uncorrelated', () => {
  const root = createRng('S')
  const streams = [root.split('a'), root.split('b'), root.split('a').split('b'), root.split('b').split('a'), createRng('S')]
  const n = 20_000
  const seqs = streams.map((r) => draw(n, () => r.next()))
  for (let i = 0; i < seqs.length; i++) {
    for (let j = i + 1; j < seqs.length; j++) {
      let sxy = 0
      for (let k = 0; k < n; k++) sxy += (seqs[i][k] - 0.5) * (seqs[j][k] - 0.5)
      const corr = sxy / n / (1 / 12)
      assert.ok(Math.abs(corr) < 4.5 / Math.sqrt(n), `streams ${i} and ${j} correlate: ${corr}`)
      assert.notEqual(seqs[i][0], seqs[j][0])
    }
  }
  // Near-identical labels still give unrelated streams (the hash avalanches).
  const x = createRng('S').split('peer-1')
  const y = createRng('S').split('peer-2')
  let same = 0
  for (let i = 0; i < 1000; i++) if ((x.nextU32() & 1) === (y.nextU32() & 1)) same++
  assert.ok(Math.abs(same - 500) < 80, `low bits agree ${same}/1000 times`)
})

test('the generator is xoshiro128** (matches the reference C implementation)', () => {
  const r = xoshiro128FromState([1, 2, 3, 4])
  assert.deepEqual(take(() => r.nextU32(), 10), [
    11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804
  ])
  const s = xoshiro128FromState([0x9e3779b9, 0x7f4a7c15, 0xdeadbeef, 0xcafebabe])
  for (let i = 0; i < 1000; i++) s.nextU32()
  assert.deepEqual(take(() => s.nextU32(), 5), [2450488725, 3832290871, 1287437859, 2609991262, 1092806260])
})

test('next() is uniform on [0, 1) and nextU32() covers 32 bits', () => {
  const r = createRng('uniformity')
  const xs = draw(20_000, () => r.next())
  for (const x of xs) assert.ok(x >= 0 && x < 1)
  assert.ok(ksContinuous(xs, (x) => Math.min(1, Math.max(0, x))) < ksCritical(xs.length))
  const m = moments(xs)
  assert.ok(Math.abs(m.mean - 0.5) < 4 * m.seMean)
  // every bit of nextU32 is set about half the time
  const ones = new Array<number>(32).fill(0)
  const n = 20_000
  for (let i = 0; i < n; i++) {
    const u = r.nextU32()
    assert.ok(Number.isInteger(u) && u >= 0 && u < 2 ** 32)
    for (let b = 0; b < 32; b++) ones[b] += (u >>> b) & 1
  }
  for (const c of ones) assert.ok(Math.abs(c - n / 2) < 4.5 * Math.sqrt(n / 4), `bit count ${c}`)
  // next() uses 53 bits: values are not all multiples of 2^-32
  assert.ok(xs.some((x) => !Number.isInteger(x * 2 ** 32)))
})
