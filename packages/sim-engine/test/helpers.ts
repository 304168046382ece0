import { createManualClock } from '@loadmesh/clock'
import type { ManualClock } from '@loadmesh/clock'
import { createRng } from '@loadmesh/workload'
import { createEngineFromProfile, parseProfile } from '../src/index.ts'
import type { Engine, EngineOptions, RequestTimings, SimError, SimRequest, StepProfile, TokenSink } from '../src/index.ts'

/**
 * A small step profile for engine tests: linear step cost (t0 + per-token), so times are easy to
 * reason about, no noise, no API overhead. `over` patches sections.
 */
export function testProfile(over: Record<string, Record<string, unknown>> = {}): StepProfile {
  const raw = {
    name: 'test',
    engine: 'step',
    model: { name: 'test-model', params_b: 1, layers: 16, hidden_size: 2048, kv_heads: 8, head_dim: 64, weight_bytes_per_param: 2, kv_bytes_per_elem: 2, max_model_len: 4096, ...over.model },
    hardware: { gpus: 1, memory_gib_per_gpu: 16, ...over.hardware },
    scheduler: { max_num_seqs: 64, max_num_batched_tokens: 2048, api_overhead_ms: 0, ...over.scheduler },
    step_cost: { mode: 'linear', t0_ms: 10, t_seq_ms: 0, t_token_ms: 0.01, t_kv_ms_per_1k: 0, ...over.step_cost },
    noise: { step_sigma: 0, ttft_sigma: 0, ...over.noise }
  }
  return parseProfile(raw, 'test profile') as StepProfile
}

export interface Probe {
  req: SimRequest
  /** [clock time, tokens] of every onTokens call. */
  chunks: Array<[number, number]>
  doneAt: number
  timings: RequestTimings | undefined
  error: SimError | undefined
  errorAt: number
  cancel: () => void
  tokens(): number
}

export interface Harness {
  clock: ManualClock
  engine: Engine
  submit(over?: Partial<SimRequest>): Probe
}

let ids = 0

export function harness(profile: StepProfile, opts: EngineOptions = {}, tokensPerChunk = 1, seed = 1): Harness {
  const clock = createManualClock()
  const engine = createEngineFromProfile(profile, { clock, rng: createRng(seed), tokensPerChunk }, opts)
  engine.start()
  return {
    clock,
    engine,
    submit(over = {}) {
      const req: SimRequest = {
        id: `r${ids++}`, endpoint: '/v1/chat/completions', model: 'test-model', promptTokens: 100, outputTokens: 10,
        finishReason: 'length', stream: true, arrivalAt: clock.now(), ...over
      }
      const p: Probe = {
        req, chunks: [], doneAt: Number.NaN, timings: undefined, error: undefined, errorAt: Number.NaN, cancel: () => {},
        tokens: () => p.chunks.reduce((a, c) => a + c[1], 0)
      }
      const sink: TokenSink = {
        onTokens(n) { p.chunks.push([clock.now(), n]) },
        onDone(_reason, timings) { p.doneAt = clock.now(); p.timings = timings },
        onError(err) { p.error = err; p.errorAt = clock.now() }
      }
      p.cancel = engine.submit(req, sink)
      return p
    }
  }
}
