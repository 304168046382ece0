import { ProfileError } from './errors.ts'

/**
 * A simulator profile: the model, the hardware, the scheduler's limits and how a step is priced.
 * This is the JSON file format (docs/simulator-profiles.md), after validation and with every
 * default filled in, so a profile read back from a report or a file means exactly one engine.
 */
export type Profile = FixedProfile | StepProfile

/** The foundation's fixed-latency engine: the server keeps it and its --sim-ttft / --sim-itl. */
export interface FixedProfile {
  name: string
  description: string
  engine: 'fixed'
}

export interface StepProfile {
  name: string
  description: string
  engine: 'step'
  model: ModelSpec
  hardware: HardwareSpec
  scheduler: SchedulerSpec
  step_cost: StepCostSpec
  noise: NoiseSpec
}

export interface ModelSpec {
  /** Served model name (the server may use it for /v1/models). */
  name: string
  /** Parameters read per token, in billions (active parameters for a mixture of experts). */
  params_b: number
  layers: number
  /** Width of the attention (query heads x head_dim); prices attention FLOPs. */
  hidden_size: number
  kv_heads: number
  head_dim: number
  /** Bytes per weight: 2 for BF16, 1 for FP8, 0.5 for 4-bit. */
  weight_bytes_per_param: number
  /** Bytes per cached K or V element: 2 for a BF16 KV cache, 1 for FP8. */
  kv_bytes_per_elem: number
  /** Longest prompt + output accepted (the KV capacity may lower it further). */
  max_model_len: number
  /** Overrides 2 * layers * kv_heads * head_dim * kv_bytes_per_elem (e.g. for MLA models). */
  kv_bytes_per_token?: number
}

export interface HardwareSpec {
  /** GPUs one replica spans (tensor parallel): memory, bandwidth and FLOPs add up. */
  gpus: number
  memory_gib_per_gpu: number
  /** HBM bandwidth per GPU, TB/s (decimal). Required by the roofline step cost. */
  bandwidth_tbps_per_gpu?: number
  /** Dense peak per GPU at the weights' precision, TFLOP/s. Required by the roofline step cost. */
  peak_tflops_per_gpu?: number
}

export interface SchedulerSpec {
  max_num_seqs: number
  max_num_batched_tokens: number
  /** Tokens per KV block (vLLM's block_size). */
  block_tokens: number
  gpu_memory_utilization: number
  /** Memory per replica kept for activations and CUDA graphs, GiB, on top of the weights. */
  reserved_gib: number
  /**
   * KV cache budget per replica, GiB, instead of memory x utilisation - weights - reserve (as vLLM's
   * kv_cache_memory_bytes). For calibrating to a server whose KV allocation is known or measured.
   */
  kv_cache_gib?: number
  /** Split long prefills over steps within max_num_batched_tokens (vLLM's default). */
  chunked_prefill: boolean
  /** Reuse KV blocks of prompts that share a prefix (requests carry `prefixHashes`). */
  prefix_caching: boolean
  /**
   * What admission reserves: 'prompt' (vLLM) takes blocks as tokens are computed and preempts the
   * newest request when they run out; 'full' (TensorRT-LLM's GUARANTEED_NO_EVICT) reserves prompt +
   * output at admission, never preempts, and makes requests wait instead.
   */
  kv_reservation: 'prompt' | 'full'
  /** Fraction of blocks a new request may not take (admission headroom that avoids thrashing). */
  watermark: number
  /**
   * Time from arrival until the scheduler sees a request (tokenisation, API server to engine hand-off),
   * ms. Part of TTFT; jittered per request by noise.ttft_sigma.
   */
  api_overhead_ms: number
}

/**
 * How long one engine step takes. Every mode is priced per step from the batch: B sequences,
 * N tokens (decodes + prefill chunk tokens), the context they attend to.
 */
export type StepCostSpec = RooflineCost | LinearCost | TableCost | FitCost

/** t0 + t_seq*B + max((weights + kv_bytes_per_token*ctx)/(eta*BW), flops/(mfu*peak)). */
export interface RooflineCost {
  mode: 'roofline'
  t0_ms: number
  t_seq_ms: number
  /** Achieved fraction of HBM bandwidth. */
  eta: number
  /** Achieved fraction of peak FLOP/s. */
  mfu: number
}

/** t0 + t_seq*B + t_token*N + t_kv_per_1k*ctx/1000: what fit mode solves for. */
export interface LinearCost {
  mode: 'linear'
  t0_ms: number
  t_seq_ms: number
  t_token_ms: number
  t_kv_ms_per_1k: number
}

/** Step time interpolated (piecewise linear) from [tokens in batch, ms] points. */
export interface TableCost {
  mode: 'table'
  points: Array<[number, number]>
}

/** Linear coefficients (and the API overhead) solved from a measured TTFT/ITL-vs-concurrency table. */
export interface FitCost {
  mode: 'fit'
  input_tokens: number
  output_tokens: number
  points: FitPoint[]
  /** Solve scheduler.api_overhead_ms too (default true); false keeps the scheduler's value. */
  fit_api_overhead: boolean
}

export interface FitPoint {
  concurrency: number
  ttft_ms: number
  itl_ms: number
  /** Per-point lengths, when the table mixes workloads (defaults: the table's). */
  input_tokens?: number
  output_tokens?: number
}

export interface NoiseSpec {
  /** Log-normal sigma of a per-step multiplier shared by the whole batch (0 = none). */
  step_sigma: number
  /** Log-normal sigma of each request's api_overhead_ms (0 = none). */
  ttft_sigma: number
}

/** Reads JSON-like input field by field; every error names the source and the dotted path. */
class Reader {
  readonly source: string
  constructor(source: string) { this.source = source }

  fail(path: string, msg: string): never {
    throw new ProfileError(`profile ${this.source}: ${path === '' ? '' : `field ${path} `}${msg}`)
  }

  object(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, `must be an object, got ${describe(v)}`)
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(join(path, k), `is not a known field (valid here: ${allowed.join(', ')})`)
    }
    return o
  }

  /** A string; with a fallback the field is optional and may be empty. */
  string(o: Record<string, unknown>, path: string, key: string, fallback?: string): string {
    const v = o[key]
    if (v === undefined && fallback !== undefined) return fallback
    if (typeof v !== 'string' || (v.length === 0 && fallback === undefined)) this.fail(join(path, key), `must be a non-empty string, got ${describe(v)}`)
    return v
  }

  number(o: Record<string, unknown>, path: string, key: string, check: NumCheck, fallback?: number): number {
    const v = o[key]
    if (v === undefined && fallback !== undefined) return fallback
    const p = join(path, key)
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(p, `must be a number, got ${describe(v)}`)
    if (check.int === true && !Number.isInteger(v)) this.fail(p, `must be an integer, got ${v}`)
    if (check.min !== undefined && v < check.min) this.fail(p, `must be >= ${check.min}, got ${v}`)
    if (check.gt !== undefined && !(v > check.gt)) this.fail(p, `must be > ${check.gt}, got ${v}`)
    if (check.max !== undefined && v > check.max) this.fail(p, `must be <= ${check.max}, got ${v}`)
    return v
  }

  optionalNumber(o: Record<string, unknown>, path: string, key: string, check: NumCheck): number | undefined {
    return o[key] === undefined ? undefined : this.number(o, path, key, check)
  }

  boolean(o: Record<string, unknown>, path: string, key: string, fallback: boolean): boolean {
    const v = o[key]
    if (v === undefined) return fallback
    if (typeof v !== 'boolean') this.fail(join(path, key), `must be true or false, got ${describe(v)}`)
    return v
  }
}

interface NumCheck { int?: boolean; min?: number; gt?: number; max?: number }

const POS_INT: NumCheck = { int: true, min: 1 }
const POS: NumCheck = { gt: 0 }
const NON_NEG: NumCheck = { min: 0 }

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing'
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}...` : s
}

const TOP = ['name', 'description', 'engine', 'model', 'hardware', 'scheduler', 'step_cost', 'noise']

/**
 * Validates a parsed profile and fills in defaults. `source` names where it came from (a file path
 * or `preset NAME`) for error messages. Idempotent: a validated profile validates to itself.
 */
export function parseProfile(raw: unknown, source: string): Profile {
  const r = new Reader(source)
  const top = r.object(raw, '', TOP)
  const name = r.string(top, '', 'name')
  const description = r.string(top, '', 'description', '')
  const engine = top.engine ?? 'step'
  if (engine === 'fixed') {
    for (const k of ['model', 'hardware', 'scheduler', 'step_cost', 'noise']) {
      if (top[k] !== undefined) r.fail(k, 'is not allowed with engine "fixed" (the fixed engine takes --sim-ttft and --sim-itl)')
    }
    return { name, description, engine: 'fixed' }
  }
  if (engine !== 'step') r.fail('engine', `must be "step" or "fixed", got ${describe(engine)}`)

  const m = r.object(top.model, 'model', [
    'name', 'params_b', 'layers', 'hidden_size', 'kv_heads', 'head_dim', 'weight_bytes_per_param', 'kv_bytes_per_elem',
    'max_model_len', 'kv_bytes_per_token'
  ])
  const model: ModelSpec = {
    name: r.string(m, 'model', 'name'),
    params_b: r.number(m, 'model', 'params_b', POS),
    layers: r.number(m, 'model', 'layers', POS_INT),
    hidden_size: r.number(m, 'model', 'hidden_size', POS_INT),
    kv_heads: r.number(m, 'model', 'kv_heads', POS_INT),
    head_dim: r.number(m, 'model', 'head_dim', POS_INT),
    weight_bytes_per_param: r.number(m, 'model', 'weight_bytes_per_param', POS),
    kv_bytes_per_elem: r.number(m, 'model', 'kv_bytes_per_elem', POS),
    max_model_len: r.number(m, 'model', 'max_model_len', POS_INT)
  }
  const kvOverride = r.optionalNumber(m, 'model', 'kv_bytes_per_token', POS)
  if (kvOverride !== undefined) model.kv_bytes_per_token = kvOverride

  const h = r.object(top.hardware, 'hardware', ['gpus', 'memory_gib_per_gpu', 'bandwidth_tbps_per_gpu', 'peak_tflops_per_gpu'])
  const hardware: HardwareSpec = {
    gpus: r.number(h, 'hardware', 'gpus', POS_INT),
    memory_gib_per_gpu: r.number(h, 'hardware', 'memory_gib_per_gpu', POS)
  }
  const bw = r.optionalNumber(h, 'hardware', 'bandwidth_tbps_per_gpu', POS)
  const peak = r.optionalNumber(h, 'hardware', 'peak_tflops_per_gpu', POS)
  if (bw !== undefined) hardware.bandwidth_tbps_per_gpu = bw
  if (peak !== undefined) hardware.peak_tflops_per_gpu = peak

  const s = r.object(top.scheduler ?? {}, 'scheduler', [
    'max_num_seqs', 'max_num_batched_tokens', 'block_tokens', 'gpu_memory_utilization', 'reserved_gib', 'kv_cache_gib', 'chunked_prefill',
    'prefix_caching', 'kv_reservation', 'watermark', 'api_overhead_ms'
  ])
  const reservation = (s.kv_reservation ?? 'prompt') as SchedulerSpec['kv_reservation']
  if (reservation !== 'prompt' && reservation !== 'full') r.fail('scheduler.kv_reservation', `must be "prompt" or "full", got ${describe(reservation)}`)
  const scheduler: SchedulerSpec = {
    max_num_seqs: r.number(s, 'scheduler', 'max_num_seqs', POS_INT, 256),
    max_num_batched_tokens: r.number(s, 'scheduler', 'max_num_batched_tokens', POS_INT, 8192),
    block_tokens: r.number(s, 'scheduler', 'block_tokens', POS_INT, 16),
    gpu_memory_utilization: r.number(s, 'scheduler', 'gpu_memory_utilization', { gt: 0, max: 1 }, 0.9),
    reserved_gib: r.number(s, 'scheduler', 'reserved_gib', NON_NEG, 0),
    chunked_prefill: r.boolean(s, 'scheduler', 'chunked_prefill', true),
    prefix_caching: r.boolean(s, 'scheduler', 'prefix_caching', false),
    kv_reservation: reservation,
    watermark: r.number(s, 'scheduler', 'watermark', { min: 0, max: 0.5 }, 0.01),
    api_overhead_ms: r.number(s, 'scheduler', 'api_overhead_ms', NON_NEG, 0)
  }
  const kvGib = r.optionalNumber(s, 'scheduler', 'kv_cache_gib', POS)
  if (kvGib !== undefined) scheduler.kv_cache_gib = kvGib
  if (!scheduler.chunked_prefill && scheduler.max_num_batched_tokens < model.max_model_len) {
    r.fail('scheduler.max_num_batched_tokens', `must be >= model.max_model_len (${model.max_model_len}) when chunked_prefill is false, got ${scheduler.max_num_batched_tokens}: a prompt must fit one step`)
  }

  const step_cost = parseStepCost(r, top.step_cost, hardware)

  const n = r.object(top.noise ?? {}, 'noise', ['step_sigma', 'ttft_sigma'])
  const noise: NoiseSpec = {
    step_sigma: r.number(n, 'noise', 'step_sigma', { min: 0, max: 2 }, 0),
    ttft_sigma: r.number(n, 'noise', 'ttft_sigma', { min: 0, max: 2 }, 0)
  }

  const profile: StepProfile = { name, description, engine: 'step', model, hardware, scheduler, step_cost, noise }
  const memGib = hardware.gpus * hardware.memory_gib_per_gpu
  if (scheduler.kv_cache_gib !== undefined && weightBytes(model) / 2 ** 30 + scheduler.kv_cache_gib > memGib) {
    r.fail('scheduler.kv_cache_gib', `${scheduler.kv_cache_gib} GiB plus ${(weightBytes(model) / 2 ** 30).toFixed(1)} GiB of weights exceeds the ${memGib} GiB of memory`)
  }
  if (kvCacheBlocks(profile) < 1) {
    r.fail('hardware', `leaves no memory for the KV cache: ${hardware.gpus} x ${hardware.memory_gib_per_gpu} GiB x ${scheduler.gpu_memory_utilization} minus ${(weightBytes(model) / 2 ** 30).toFixed(1)} GiB of weights and ${scheduler.reserved_gib} GiB reserved`)
  }
  return profile
}

function parseStepCost(r: Reader, v: unknown, hw: HardwareSpec): StepCostSpec {
  if (v === undefined) r.fail('step_cost', 'is required for engine "step" (mode roofline, linear, table or fit)')
  const pre = r.object(v, 'step_cost', ['mode', 't0_ms', 't_seq_ms', 'eta', 'mfu', 't_token_ms', 't_kv_ms_per_1k', 'points', 'input_tokens', 'output_tokens', 'fit_api_overhead'])
  const mode = pre.mode
  const P = 'step_cost'
  if (mode === 'roofline') {
    const o = r.object(v, P, ['mode', 't0_ms', 't_seq_ms', 'eta', 'mfu'])
    if (hw.bandwidth_tbps_per_gpu === undefined) r.fail('hardware.bandwidth_tbps_per_gpu', 'is required by step_cost mode roofline')
    if (hw.peak_tflops_per_gpu === undefined) r.fail('hardware.peak_tflops_per_gpu', 'is required by step_cost mode roofline')
    return {
      mode,
      t0_ms: r.number(o, P, 't0_ms', NON_NEG),
      t_seq_ms: r.number(o, P, 't_seq_ms', NON_NEG, 0),
      eta: r.number(o, P, 'eta', { gt: 0, max: 1 }),
      mfu: r.number(o, P, 'mfu', { gt: 0, max: 1 })
    }
  }
  if (mode === 'linear') {
    const o = r.object(v, P, ['mode', 't0_ms', 't_seq_ms', 't_token_ms', 't_kv_ms_per_1k'])
    const c: LinearCost = {
      mode,
      t0_ms: r.number(o, P, 't0_ms', NON_NEG),
      t_seq_ms: r.number(o, P, 't_seq_ms', NON_NEG, 0),
      t_token_ms: r.number(o, P, 't_token_ms', NON_NEG, 0),
      t_kv_ms_per_1k: r.number(o, P, 't_kv_ms_per_1k', NON_NEG, 0)
    }
    if (!(c.t0_ms + c.t_seq_ms + c.t_token_ms > 0)) r.fail(P, 'has a zero step time: t0_ms, t_seq_ms or t_token_ms must be positive')
    return c
  }
  if (mode === 'table') {
    const o = r.object(v, P, ['mode', 'points'])
    const pts = o.points
    if (!Array.isArray(pts) || pts.length === 0) r.fail(`${P}.points`, `must be a non-empty list of [tokens, ms] pairs, got ${describe(pts)}`)
    const points: Array<[number, number]> = []
    pts.forEach((p: unknown, i) => {
      const path = join(`${P}.points`, i)
      if (!Array.isArray(p) || p.length !== 2) r.fail(path, `must be a [tokens, ms] pair, got ${describe(p)}`)
      const tokens = r.number({ t: p[0] }, path, 't', { min: 0 })
      const ms = r.number({ m: p[1] }, path, 'm', POS)
      if (points.length > 0 && tokens <= points[points.length - 1][0]) r.fail(path, `tokens must increase from point to point, got ${tokens} after ${points[points.length - 1][0]}`)
      points.push([tokens, ms])
    })
    return { mode, points }
  }
  if (mode === 'fit') {
    const o = r.object(v, P, ['mode', 'points', 'input_tokens', 'output_tokens', 'fit_api_overhead'])
    const input = r.number(o, P, 'input_tokens', POS_INT)
    const output = r.number(o, P, 'output_tokens', POS_INT)
    const pts = o.points
    if (!Array.isArray(pts) || pts.length < 2) r.fail(`${P}.points`, `must list at least 2 measured points ({ concurrency, ttft_ms, itl_ms }), got ${describe(pts)}`)
    const points: FitPoint[] = pts.map((p: unknown, i) => {
      const path = join(`${P}.points`, i)
      const q = r.object(p, path, ['concurrency', 'ttft_ms', 'itl_ms', 'input_tokens', 'output_tokens'])
      const fp: FitPoint = {
        concurrency: r.number(q, path, 'concurrency', POS_INT),
        ttft_ms: r.number(q, path, 'ttft_ms', POS),
        itl_ms: r.number(q, path, 'itl_ms', POS)
      }
      const pi = r.optionalNumber(q, path, 'input_tokens', POS_INT)
      const po = r.optionalNumber(q, path, 'output_tokens', POS_INT)
      if (pi !== undefined) fp.input_tokens = pi
      if (po !== undefined) fp.output_tokens = po
      return fp
    })
    return { mode, input_tokens: input, output_tokens: output, points, fit_api_overhead: r.boolean(o, P, 'fit_api_overhead', true) }
  }
  return r.fail(`${P}.mode`, `must be one of roofline, linear, table, fit; got ${describe(mode)}`)
}

/** Weight bytes of one replica (all its GPUs together). */
export function weightBytes(m: ModelSpec): number {
  return m.params_b * 1e9 * m.weight_bytes_per_param
}

/** KV cache bytes per token: K and V, every layer, every KV head. */
export function kvBytesPerToken(m: ModelSpec): number {
  return m.kv_bytes_per_token ?? 2 * m.layers * m.kv_heads * m.head_dim * m.kv_bytes_per_elem
}

/** KV blocks of one replica: memory x utilisation, minus weights and the reserve, over the block size. */
export function kvCacheBlocks(p: StepProfile): number {
  const gib = 2 ** 30
  const s = p.scheduler
  const budget = s.kv_cache_gib !== undefined
    ? s.kv_cache_gib * gib
    : p.hardware.gpus * p.hardware.memory_gib_per_gpu * gib * s.gpu_memory_utilization - weightBytes(p.model) - s.reserved_gib * gib
  return Math.max(0, Math.floor(budget / (kvBytesPerToken(p.model) * s.block_tokens)))
}
