import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { arrivalSeedLabel, computeShares, openLoopRate, splitConcurrency } from '../src/index.ts'

const memberList = fc.uniqueArray(
  fc.record({
    peer_id: fc.string({ minLength: 1, maxLength: 12 }),
    weight: fc.oneof(
      fc.integer({ min: 1, max: 64 }),
      fc.double({ min: 1e-3, max: 1e6, noNaN: true, noDefaultInfinity: true })
    )
  }),
  { minLength: 1, maxLength: 40, selector: (m) => m.peer_id }
)

/** a/b as an exact bigint pair. */
function frac(s: string): [bigint, bigint] {
  const [n, d] = s.split('/')
  return [BigInt(n), BigInt(d)]
}

test('shares tile [0,1) exactly (floats and fractions), sorted by peer id, whatever the input order', () => {
  fc.assert(
    fc.property(memberList, (list) => {
      const shares = computeShares(list)
      const ids = [...list.map((m) => m.peer_id)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      assert.deepEqual(shares.map((s) => s.peer_id), ids)
      assert.equal(shares[0].from, 0)
      assert.equal(shares.at(-1)?.to, 1)
      assert.equal(shares[0].exact.from, '0/1')
      assert.equal(shares.at(-1)?.exact.to, '1/1')
      for (let i = 0; i + 1 < shares.length; i++) {
        assert.equal(shares[i].to, shares[i + 1].from)
        assert.equal(shares[i].exact.to, shares[i + 1].exact.from)
        assert.ok(shares[i].from <= shares[i].to)
      }
      // Reversed input gives the identical result: every peer computes the same segments.
      assert.deepEqual(computeShares([...list].reverse()), shares)
    }),
    { seed: 7, numRuns: 300 }
  )
})

test('shares are exactly proportional to weight', () => {
  fc.assert(
    fc.property(memberList, (list) => {
      const shares = computeShares(list)
      // Float shares within rounding of w / total for any weights; for integer weights the exact
      // fraction is checked independently of the code's binary scaling: n / d == w / sum.
      const total = list.reduce((a, m) => a + m.weight, 0)
      for (const s of shares) {
        const w = list.find((m) => m.peer_id === s.peer_id)?.weight as number
        assert.ok(Math.abs(s.share - w / total) <= 1e-12 * Math.max(1, w / total))
      }
      if (list.every((m) => Number.isInteger(m.weight))) {
        const sum = BigInt(list.reduce((a, m) => a + m.weight, 0))
        for (const s of shares) {
          const [n, d] = frac(s.exact.share)
          const w = BigInt(list.find((m) => m.peer_id === s.peer_id)?.weight as number)
          assert.equal(n * sum, w * d)
        }
      }
    }),
    { seed: 11, numRuns: 300 }
  )
})

test('three equal agents get thirds; weights 1,2,1 get a quarter, a half, a quarter', () => {
  const thirds = computeShares([
    { peer_id: 'c', weight: 1 },
    { peer_id: 'a', weight: 1 },
    { peer_id: 'b', weight: 1 }
  ])
  assert.deepEqual(thirds.map((s) => [s.peer_id, s.exact.from, s.exact.to]), [
    ['a', '0/1', '1/3'],
    ['b', '1/3', '2/3'],
    ['c', '2/3', '1/1']
  ])
  const w = computeShares([
    { peer_id: 'a', weight: 1 },
    { peer_id: 'b', weight: 2 },
    { peer_id: 'c', weight: 1 }
  ])
  assert.deepEqual(w.map((s) => [s.from, s.to, s.share]), [
    [0, 0.25, 0.25],
    [0.25, 0.75, 0.5],
    [0.75, 1, 0.25]
  ])
  // 0.1 + 0.2 weights: exact binary values, so the shares are not 1/3 and 2/3 but add up exactly.
  const f = computeShares([
    { peer_id: 'x', weight: 0.1 },
    { peer_id: 'y', weight: 0.2 }
  ])
  assert.equal(f[0].to, f[1].from)
  assert.equal(f[1].to, 1)
})

test('open-loop rates add up to the mesh rate', () => {
  fc.assert(
    fc.property(memberList, fc.double({ min: 0, max: 1e6, noNaN: true }), (list, rate) => {
      const sum = computeShares(list).reduce((a, s) => a + openLoopRate(rate, s), 0)
      assert.ok(Math.abs(sum - rate) <= 1e-9 * Math.max(1, rate), `${sum} vs ${rate}`)
    }),
    { seed: 13, numRuns: 300 }
  )
})

test('concurrency splits by largest remainder, sums to exactly C, ties to the lower peer id', () => {
  fc.assert(
    fc.property(memberList, fc.integer({ min: 0, max: 100_000 }), (list, c) => {
      const split = splitConcurrency(c, list)
      assert.equal(split.reduce((a, s) => a + s.concurrency, 0), c)
      const total = list.reduce((a, m) => a + m.weight, 0)
      for (const s of split) {
        const ideal = (c * (list.find((m) => m.peer_id === s.peer_id)?.weight as number)) / total
        // Largest remainder: never more than one away from the ideal (up to float noise in `ideal`).
        assert.ok(s.concurrency >= Math.floor(ideal - 1e-6) && s.concurrency <= Math.ceil(ideal + 1e-6), `${s.concurrency} vs ${ideal}`)
      }
      assert.deepEqual(splitConcurrency(c, [...list].reverse()), split)
    }),
    { seed: 17, numRuns: 300 }
  )
  // 10 over three equal agents: 3.33 each; the one left over goes to the lowest id.
  assert.deepEqual(splitConcurrency(10, [{ peer_id: 'c', weight: 1 }, { peer_id: 'a', weight: 1 }, { peer_id: 'b', weight: 1 }]), [
    { peer_id: 'a', concurrency: 4 },
    { peer_id: 'b', concurrency: 3 },
    { peer_id: 'c', concurrency: 3 }
  ])
  // 7 over weights 1, 1, 5: ideal 1, 1, 5 exactly.
  assert.deepEqual(splitConcurrency(7, [{ peer_id: 'a', weight: 1 }, { peer_id: 'b', weight: 1 }, { peer_id: 'c', weight: 5 }]).map((s) => s.concurrency), [1, 1, 5])
  // 5 over weights 3, 3, 4 (ideal 1.5, 1.5, 2): the tie at .5 goes to the lower id.
  assert.deepEqual(splitConcurrency(5, [{ peer_id: 'a', weight: 3 }, { peer_id: 'b', weight: 3 }, { peer_id: 'c', weight: 4 }]).map((s) => s.concurrency), [2, 1, 2])
})

test('bad member lists and arguments throw with a stable code', () => {
  assert.throws(() => computeShares([{ peer_id: 'a', weight: 1 }, { peer_id: 'a', weight: 2 }]), { code: 'ERR_BAD_MEMBERS', message: /peer a is listed twice/ })
  assert.throws(() => computeShares([{ peer_id: 'a', weight: 0 }]), { code: 'ERR_BAD_MEMBERS', message: /peer a has weight 0/ })
  assert.throws(() => computeShares([{ peer_id: 'a', weight: Number.NaN }]), { code: 'ERR_BAD_MEMBERS' })
  assert.throws(() => splitConcurrency(1.5, [{ peer_id: 'a', weight: 1 }]), { code: 'ERR_BAD_ARGUMENT' })
  assert.throws(() => openLoopRate(-1, 0.5), { code: 'ERR_BAD_ARGUMENT' })
  assert.deepEqual(computeShares([]), [])
})

test('arrival seed labels are stable and distinct per (peer, epoch)', () => {
  assert.equal(arrivalSeedLabel('12D3KooWabc', 3), 'arrivals:12D3KooWabc:epoch-3')
  const labels = new Set<string>()
  for (const p of ['a', 'b', 'a:epoch-1']) for (let e = 0; e < 3; e++) labels.add(arrivalSeedLabel(p, e))
  assert.equal(labels.size, 9)
  assert.throws(() => arrivalSeedLabel('a', -1), { code: 'ERR_BAD_ARGUMENT' })
})
