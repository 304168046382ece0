import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '@loadmesh/clock'
import { createInjector } from '@loadmesh/injector'
import type { RequestSpec } from '@loadmesh/injector'
import type { RequestResult } from '@loadmesh/metrics'
import { loadProfile } from '@loadmesh/sim-engine'
import { createSimulator } from '@loadmesh/simulator'
import type { SimulatorOptions } from '@loadmesh/simulator'
import { runCli } from './helpers/cli.ts'

// Cross-package proof for issue 4: the simulator's faults come out at their configured rates, and the
// loadmesh injector classifies each one as the error class a user will see in the report.

const clock = systemClock()

const spec = (stream: boolean, maxTokens = 8): RequestSpec => ({
  endpoint: '/v1/chat/completions', prompt: 'Tell me something.', inputTokens: 4, maxTokens, stream, includeUsage: stream
})

async function withSimulator<T>(opts: SimulatorOptions, fn: (url: string) => Promise<T>): Promise<T> {
  const sim = createSimulator({ engine: { ttft: '0ms', itl: '0ms' }, ...opts })
  const { url } = await sim.start()
  try {
    return await fn(url)
  } finally {
    await sim.stop()
  }
}

/** `n` requests through one injector, `concurrency` at a time. */
async function sendMany(url: string, n: number, concurrency: number, req: RequestSpec, headers?: Record<string, string>, timeoutMs = 10_000): Promise<RequestResult[]> {
  const inj = createInjector({ baseUrl: url, model: 'loadmesh-sim', timeoutMs, connections: concurrency, clock, ...(headers === undefined ? {} : { headers }) })
  const out: RequestResult[] = []
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < n) {
      next++
      out.push(await inj.send(req, clock.now()))
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, lane))
  } finally {
    await inj.close()
  }
  return out
}

const classes = (rs: RequestResult[]): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const r of rs) {
    const k = r.ok ? 'ok' : r.errorClass ?? 'unknown'
    out[k] = (out[k] ?? 0) + 1
  }
  return out
}

test('configured rates come out as configured: 5% 429 over 4,000 requests is 5% +- 1% (fixed seed)', async () => {
  const faults = { faults: [{ kind: 'http_429', rate: 0.05, retry_after: 2 }, { kind: 'http_503', rate: 0.03 }, { kind: 'http_500', rate: 0.02 }] }
  const run = async (): Promise<Record<string, number>> => await withSimulator({ seed: 42, faults }, async (url) => classes(await sendMany(url, 4000, 16, spec(false, 1))))
  const got = await run()
  const share = (k: string): number => (got[k] ?? 0) / 4000
  assert.ok(Math.abs(share('http_429') - 0.05) <= 0.01, `429: ${share('http_429')}`)
  assert.ok(Math.abs(share('http_503') - 0.03) <= 0.01, `503: ${share('http_503')}`)
  assert.ok(Math.abs(share('http_500') - 0.02) <= 0.01, `500: ${share('http_500')}`)
  assert.equal((got.ok ?? 0) + (got.http_429 ?? 0) + (got.http_503 ?? 0) + (got.http_500 ?? 0), 4000, JSON.stringify(got))
  // Requests settle in a different order with 16 lanes, but every request draws once in arrival
  // order, so the same seed gives the same totals.
  assert.deepEqual(await run(), got)
})

test('the injector classifies every forced fault', async () => {
  await withSimulator({ engine: { ttft: '5ms', itl: '1ms' }, seed: 1 }, async (url) => {
    const one = async (header: string, req: RequestSpec, timeoutMs = 10_000): Promise<RequestResult> =>
      (await sendMany(url, 1, 1, req, { 'x-loadmesh-fault': header }, timeoutMs))[0]
    const cases: Array<[string, RequestSpec, string, number?]> = [
      ['http_429', spec(true), 'http_429'],
      ['http_503', spec(true), 'http_503'],
      ['http_500', spec(false), 'http_500'],
      ['http_400', spec(true), 'http_400'],
      ['disconnect;k=3', spec(true, 20), 'stream_aborted'],
      ['disconnect;k=3', spec(false, 20), 'stream_aborted'],
      ['sse_error;k=3', spec(true, 20), 'sse_error'],
      ['hang_before_headers', spec(true), 'timeout', 300],
      ['hang_before_first_token', spec(true), 'timeout', 300],
      ['hang_before_headers', spec(false), 'timeout', 300]
    ]
    for (const [header, req, expected, timeoutMs] of cases) {
      const r = await one(header, req, timeoutMs)
      assert.equal(r.ok, false, `${header} (stream ${req.stream}) should fail`)
      assert.equal(r.errorClass, expected, `${header} (stream ${req.stream}): ${r.errorMessage}`)
    }
    const limited = await one('http_429;retry_after=9', spec(false))
    assert.match(limited.errorMessage ?? '', /retry-after: 9/)
    // A stream cut after 3 tokens still reports the 3 tokens it got.
    const cut = await one('disconnect;k=3', spec(true, 20))
    assert.equal(cut.outputTokens, 3)
    const none = await one('none', spec(true))
    assert.equal(none.ok, true)
  })
})

test('real overload and limits, not forced: context length 400, queue-threshold 503, crash mid-stream', async () => {
  // The context limit is always on.
  await withSimulator({ engine: { ttft: '1ms', itl: '1ms', maxModelLen: 64 } }, async (url) => {
    const [r] = await sendMany(url, 1, 1, spec(true, 100))
    assert.equal(r.errorClass, 'http_400')
    assert.match(r.errorMessage ?? '', /maximum context length is 64 tokens/)
  })
  // A step engine with a queue limit of 1 per replica: a burst of 40 long requests overflows it.
  const profile = loadProfile('h100-llama3.1-8b-fp8')
  await withSimulator({ engine: { kind: 'profile', profile, maxWaiting: 1 } }, async (url) => {
    const got = classes(await sendMany(url, 600, 300, spec(false, 4)))
    assert.ok((got.http_503 ?? 0) > 0, JSON.stringify(got))
    assert.ok((got.ok ?? 0) > 0, JSON.stringify(got))
    assert.equal((got.ok ?? 0) + (got.http_503 ?? 0), 600, JSON.stringify(got))
  })
  // A replica crash fails the streams in flight with an in-stream error event.
  const sim = createSimulator({ engine: { ttft: '5ms', itl: '20ms' } })
  const { url } = await sim.start()
  try {
    const pending = sendMany(url, 4, 4, spec(true, 500))
    await new Promise((r) => setTimeout(r, 200))
    sim.addFaults([{ kind: 'crash', replica: 0, restart: '1s' }])
    const got = classes(await pending)
    assert.deepEqual(got, { sse_error: 4 })
  } finally {
    await sim.stop()
  }
})

test('rehearse passes a plan\'s simulator section (engine and faults) to the simulator; mistakes name the plan line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-sim-faults-'))
  const plan = join(dir, 'plan.yaml')
  await writeFile(plan, [
    'duration: 2s', 'rate: 40', 'output-tokens: fixed:6', 'input-tokens: fixed:16',
    'simulator:', '  sim-ttft: 5ms', '  sim-itl: 1ms', '  faults:',
    '    - kind: http_429', '      rate: 0.25', '    - kind: sse_error', '      rate: 0.15', '      after_tokens: 2', ''
  ].join('\n'))
  const r = await runCli(['rehearse', '--plan', plan, '--seed', '5', '--quiet', '--json', '--max-error-rate', '1'])
  assert.equal(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout)
  const errors = report.requests.errors as Record<string, number>
  assert.deepEqual(Object.keys(errors).sort(), ['http_429', 'sse_error'])
  assert.equal(errors.http_429 + errors.sse_error, report.requests.failed)
  assert.ok(errors.http_429 > errors.sse_error, JSON.stringify(errors))

  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, ['duration: 1s', 'simulator:', '  faults:', '    - kind: http_429', '      rate: 3', ''].join('\n'))
  const r2 = await runCli(['rehearse', '--plan', bad])
  assert.equal(r2.code, 2)
  assert.match(r2.stderr, /bad\.yaml:3:3: faults: faults\[0\]\.rate: must be a fraction/)
  const r3 = await runCli(['run', '--target', 'http://127.0.0.1:9', '--plan', plan])
  assert.equal(r3.code, 2)
  assert.match(r3.stderr, /plan\.yaml:5:1: "simulator" configures the simulator; only `loadmesh rehearse` takes it/)
})
