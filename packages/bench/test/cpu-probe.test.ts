import { test } from 'node:test'
import assert from 'node:assert/strict'
import { probeCpu } from '../src/cpu-probe.ts'

test('the CPU probe adds up the gaps over the threshold and counts those over 1 ms', () => {
  // A fake clock: steps of 0.01 ms, with gaps of 0.7, 3 and 0.4 ms (the last below the threshold).
  const gaps = new Map([[100, 0.7], [200, 3], [300, 0.4]])
  let t = 0
  let i = 0
  const now = (): number => {
    i++
    t += gaps.get(i) ?? 0.01
    return t
  }
  const r = probeCpu(10, 0.5, now)
  assert.ok(Math.abs(r.max_gap_ms - 3) < 1e-9)
  assert.ok(Math.abs(r.lost_fraction - 3.7 / (r.duration_s * 1000)) < 1e-9)
  assert.ok(Math.abs(r.gaps_over_1ms_per_s - 1 / r.duration_s) < 1e-9)
})
