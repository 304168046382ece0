import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runVirtual } from '../src/index.ts'

/**
 * The presets against the public numbers they are calibrated to (docs/simulator-profiles.md).
 * NIM, Llama-3.1-8B on one H100: TTFT and ITL (ms) by concurrency.
 */
const NIM_8B: Array<[number, number, number]> = [
  [1, 10.3, 4.63],
  [25, 36, 5.19],
  [50, 67, 5.91],
  [100, 120, 7.57],
  [200, 465, 12.65]
]

test('h100-llama3.1-8b-fp8 reproduces the NIM sweep within 20% (closed loop, 100 in / 200 out, mean TTFT and ITL)', async () => {
  const rows: string[] = []
  let worst = 0
  for (const [c, ttft, itl] of NIM_8B) {
    const r = await runVirtual({ profile: 'h100-llama3.1-8b-fp8', concurrency: c, inputTokens: 'fixed:100', outputTokens: 'fixed:200', durationMs: 60_000, seed: 1 })
    const L = r.report.latency_ms
    const t = L.ttft.mean as number
    const i = L.itl.mean as number
    const et = t / ttft - 1
    const ei = i / itl - 1
    worst = Math.max(worst, Math.abs(et), Math.abs(ei))
    rows.push(`c=${c}: TTFT ${t.toFixed(1)} vs ${ttft} (${(et * 100).toFixed(0)}%), ITL ${i.toFixed(2)} vs ${itl} (${(ei * 100).toFixed(0)}%)`)
  }
  assert.ok(worst <= 0.2, `worst error ${(worst * 100).toFixed(0)}%:\n${rows.join('\n')}`)
})

test('2xh100-llama3.3-70b-fp8 with 5000 in / 500 out: the TTFT cliff between concurrency 50 and 150, throughput flat', async () => {
  const at = async (c: number): Promise<{ ttft: number; tokS: number; preemptions: number }> => {
    const r = await runVirtual({ profile: '2xh100-llama3.3-70b-fp8', concurrency: c, inputTokens: 'fixed:5000', outputTokens: 'fixed:500', durationMs: 120_000, seed: 1 })
    assert.equal(r.report.requests.failed, 0)
    // p50: the first wave (every client starting at once) is a start-up transient, not the steady state.
    return { ttft: r.report.latency_ms.ttft.p50 as number, tokS: r.report.throughput.output_tokens_per_s, preemptions: r.engine.preemptions }
  }
  const c1 = await at(1)
  const c50 = await at(50)
  const c100 = await at(100)
  const c150 = await at(150)
  const msg = `TTFT p50 ${[c1, c50, c100, c150].map((x) => x.ttft.toFixed(0)).join(' / ')} ms, tok/s ${[c1, c50, c100, c150].map((x) => x.tokS.toFixed(0)).join(' / ')}`
  // NIM: 407 ms at 1, 835 ms at 50, 8.0 s at 100, 34.8 s at 150, throughput flat near 920 tok/s.
  assert.ok(Math.abs(c1.ttft / 407 - 1) < 0.2, msg)
  assert.ok(c150.ttft > 10 * c50.ttft, `cliff: ${msg}`)
  assert.ok(c100.ttft > 5 * c50.ttft, msg)
  assert.ok(Math.abs(c150.tokS / c100.tokS - 1) < 0.1, `throughput flattens: ${msg}`)
  assert.ok(c150.tokS > 700 && c150.tokS < 1100, msg)
  assert.ok(c150.preemptions > 0, 'the KV cache ran out')
})

test('h100-llama3-8b-bf16 matches the roofline check: a lone decode step is ~7.5 ms', async () => {
  const r = await runVirtual({ profile: 'h100-llama3-8b-bf16', concurrency: 1, inputTokens: 'fixed:200', outputTokens: 'fixed:200', durationMs: 10_000, seed: 1 })
  const itl = r.report.latency_ms.itl.p50 as number
  assert.ok(Math.abs(itl / 7.5 - 1) < 0.05, `ITL p50 ${itl}`)
})
