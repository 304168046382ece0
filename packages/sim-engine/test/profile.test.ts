import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createManualClock } from '@loadmesh/clock'
import { createRng } from '@loadmesh/workload'
import { createEngineFromProfile, listProfiles, loadProfile, parseProfile, profileCapacity } from '../src/index.ts'
import type { StepProfile } from '../src/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'sim-engine-profile-'))
const write = (name: string, body: unknown): string => {
  const p = join(dir, name)
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body))
  return p
}
const preset8b = (): Record<string, unknown> => JSON.parse(readFileSync(new URL('../profiles/h100-llama3.1-8b-fp8.json', import.meta.url), 'utf8'))

test('the presets are listed and each loads under its own name', () => {
  const names = listProfiles()
  for (const n of ['h100-llama3.1-8b-fp8', 'h100-llama3-8b-bf16', '2xh100-llama3.3-70b-fp8', 'fixed']) assert.ok(names.includes(n), n)
  for (const n of names) {
    const p = loadProfile(n)
    assert.equal(p.name, n)
    assert.ok(p.description.length > 20, `${n} has a description`)
    // A validated profile validates to itself: it can be written to a report and read back.
    assert.deepEqual(parseProfile(JSON.parse(JSON.stringify(p)), 'round trip'), p)
  }
})

test('fixed carries nothing else, and is the server\'s engine, not a step engine', () => {
  assert.deepEqual(loadProfile('fixed'), { name: 'fixed', description: loadProfile('fixed').description, engine: 'fixed' })
  assert.throws(() => createEngineFromProfile(loadProfile('fixed'), { clock: createManualClock(), rng: createRng(1), tokensPerChunk: 1 }),
    { name: 'ProfileError', code: 'ERR_BAD_PROFILE', message: /engine "fixed" is the server's fixed-latency engine/ })
})

test('KV bytes per token and capacity follow from the model and the GPU memory', () => {
  // The reference's numbers: 128 KiB per token for Llama-3-8B in BF16, 320 KiB for the 70B.
  assert.equal(profileCapacity(loadProfile('h100-llama3-8b-bf16')).kvBytesPerToken, 128 * 1024)
  const p70 = loadProfile('2xh100-llama3.3-70b-fp8') as StepProfile
  assert.equal(profileCapacity({ ...p70, model: { ...p70.model, kv_bytes_per_elem: 2 } }).kvBytesPerToken, 320 * 1024)
  const c = profileCapacity(loadProfile('h100-llama3-8b-bf16'))
  // 79.6 GiB x 0.9 - 14.96 GiB of weights - 4 GiB reserved, over 16 x 128 KiB blocks.
  assert.equal(c.kvBlocks, Math.floor((79.6 * 0.9 * 2 ** 30 - 8.03e9 * 2 - 4 * 2 ** 30) / (16 * 128 * 1024)))
  assert.equal(c.maxModelLen, 8192)
  const cap70 = profileCapacity(p70)
  assert.ok(cap70.kvTokens > 400_000 && cap70.kvTokens < 500_000, `70B FP8 KV holds ~85 requests of 5500 tokens (${cap70.kvTokens})`)
})

test('a user profile file is loaded by path, its name defaulting to the file name', () => {
  const body = preset8b()
  delete body.name
  const p = loadProfile(write('my-gpu.json', body))
  assert.equal(p.name, 'my-gpu')
  assert.equal(p.engine, 'step')
})

test('bad profiles fail with ERR_BAD_PROFILE naming the file and the field', () => {
  const bad = (mutate: (p: Record<string, any>) => void, re: RegExp, file = 'bad.json'): void => {
    const body = preset8b() as Record<string, any>
    mutate(body)
    const path = write(file, body)
    assert.throws(() => loadProfile(path), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'ProfileError')
      assert.equal(err.code, 'ERR_BAD_PROFILE')
      assert.ok(err.message.includes(path), `names the file: ${err.message}`)
      assert.match(err.message, re)
      return true
    })
  }
  bad((p) => { p.scheduler.max_num_seqs = 0 }, /field scheduler\.max_num_seqs must be >= 1, got 0/)
  bad((p) => { p.scheduler.max_num_seqs = 2.5 }, /scheduler\.max_num_seqs must be an integer/)
  bad((p) => { p.model.layers = '32' }, /field model\.layers must be a number, got "32"/)
  bad((p) => { p.scheduler.max_num_seq = 5 }, /field scheduler\.max_num_seq is not a known field/)
  bad((p) => { delete p.step_cost }, /field step_cost is required/)
  bad((p) => { p.step_cost.mode = 'magic' }, /step_cost\.mode must be one of roofline, linear, table, fit/)
  bad((p) => { delete p.hardware.bandwidth_tbps_per_gpu }, /hardware\.bandwidth_tbps_per_gpu is required by step_cost mode roofline/)
  bad((p) => { p.step_cost = { mode: 'table', points: [[10, 5], [5, 6]] } }, /step_cost\.points\[1\] tokens must increase/)
  bad((p) => { p.step_cost = { mode: 'fit', input_tokens: 100, output_tokens: 100, points: [{ concurrency: 1, ttft_ms: 10, itl_ms: 5 }] } }, /at least 2 measured points/)
  bad((p) => { p.engine = 'gpu' }, /field engine must be "step" or "fixed"/)
  bad((p) => { p.scheduler.kv_reservation = 'all' }, /scheduler\.kv_reservation must be "prompt" or "full"/)
  bad((p) => { delete p.scheduler.kv_cache_gib; p.hardware.memory_gib_per_gpu = 8 }, /leaves no memory for the KV cache/)
  bad((p) => { p.scheduler.kv_cache_gib = 80 }, /field scheduler\.kv_cache_gib 80 GiB plus 7\.5 GiB of weights exceeds the 79\.6 GiB/)
  bad((p) => { p.scheduler.chunked_prefill = false }, /max_num_batched_tokens must be >= model\.max_model_len/)
  const notJson = write('broken.json', '{ "name": ')
  assert.throws(() => loadProfile(notJson), { code: 'ERR_BAD_PROFILE', message: new RegExp(`profile ${notJson.replace(/[/.]/g, '\\$&')}: not valid JSON`) })
  assert.throws(() => loadProfile(join(dir, 'missing.json')), { code: 'ERR_BAD_PROFILE', message: /cannot read the file/ })
  assert.throws(() => loadProfile('h100-nonsense'), { code: 'ERR_BAD_PROFILE', message: /not a preset \(presets: .*h100-llama3\.1-8b-fp8/ })
})

test('table mode interpolates step time from tokens in the batch', () => {
  const body = preset8b()
  body.step_cost = { mode: 'table', points: [[1, 5], [1001, 15], [2001, 35]] }
  body.noise = { step_sigma: 0, ttft_sigma: 0 }
  ;(body.scheduler as Record<string, unknown>).api_overhead_ms = 0
  const p = parseProfile(body, 'table test') as StepProfile
  const clock = createManualClock()
  const engine = createEngineFromProfile(p, { clock, rng: createRng(1), tokensPerChunk: 1 })
  engine.start()
  const times: number[] = []
  const submit = (promptTokens: number): void => {
    engine.submit({ id: 'a', endpoint: '/v1/completions', model: 'm', promptTokens, outputTokens: 2, finishReason: 'length', stream: true, arrivalAt: clock.now() },
      { onTokens: () => { times.push(clock.now()) }, onDone() {}, onError(e) { throw new Error(e.message) } })
    clock.runAll()
  }
  submit(501)
  // Prefill of 501 tokens: halfway between 5 and 15 ms; then a 1-token decode step: 5 ms.
  assert.deepEqual(times, [10, 15])
  // Beyond the last point the last segment's slope goes on: 3001 tokens -> 55 ms.
  submit(3001)
  assert.equal(times[2] - 15, 55)
})
