import type { LengthSpec, ArrivalKind, AdversarialSpec } from '@loadmesh/workload'
import { ADVERSARIAL_KINDS } from '@loadmesh/workload'
import type { Slo } from '@loadmesh/metrics'
import { ENDPOINTS, HTTP_CLIENT_KINDS } from '@loadmesh/injector'
import type { Endpoint as AnyEndpoint, HttpClientKind } from '@loadmesh/injector'
import type { WorkloadLogFormat } from '@loadmesh/workload-models'

/**
 * The run's single endpoint (`--endpoint`): a generation endpoint. Embeddings and moderations come
 * in through an endpoint mix or a log / model, which name any of the four (`AnyEndpoint`).
 */
export type Endpoint = '/v1/chat/completions' | '/v1/completions'

/** One endpoint's weight in a mix (weights of a mix sum to 1). */
export interface EndpointWeight {
  endpoint: AnyEndpoint
  weight: number
}

/**
 * Where requests come from instead of the synthetic specs: a request log replayed on its own
 * timeline, or a fitted workload model (docs/workload.md). Paths are absolute, so that every agent
 * of a mesh reads the same file.
 */
export type WorkloadSource =
  | {
      kind: 'replay'
      log: string
      /** Forced log format; null: detected. */
      format: WorkloadLogFormat | null
      speedup: number
      loop: boolean
      rate_scale: number
      /** Window of the log, ms from its first record: [from_ms, to_ms). */
      from_ms: number
      to_ms: number | null
    }
  | { kind: 'model'; model: string; rate_scale: number; input_scale: number; output_scale: number }

/** `--long-tail`: outcomes rarer than `threshold` are drawn `factor` times as often, each request weighted back. */
export interface LongTailConfig {
  threshold: number
  factor: number
}

/**
 * Everything that defines a run, as plain JSON: it is written into the report (`config`) and, later,
 * carried in a mesh plan. Secrets (the API key) are deliberately not part of it.
 */
export interface RunConfig {
  /** Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000 */
  target: string
  model: string
  endpoint: Endpoint
  duration_ms: number
  /** 'open': arrivals at `rate` (req/s); 'closed': `concurrency` requests kept in flight. */
  mode: 'open' | 'closed'
  rate: number | null
  concurrency: number | null
  arrival: ArrivalKind
  /** Gamma shape b (vLLM's burstiness); 1 = Poisson. Used when arrival = gamma. */
  burstiness: number
  input_tokens: LengthSpec
  output_tokens: LengthSpec
  stream: boolean
  /** Sends vLLM's `ignore_eos: true` so the server generates exactly max_tokens. */
  ignore_eos: boolean
  seed: string
  slo: Slo
  max_in_flight: number
  timeout_ms: number
  connections: number
  /** HTTP client for the target (see the injector's `httpClient`); absent: `auto`. */
  http_client?: HttpClientKind
  /** Exit non-zero when failed / sent exceeds this fraction. */
  max_error_rate: number
  fail_on_slo: boolean
  /** Endpoints of synthetic requests, by weight (summing to 1); absent or null: `endpoint` alone. */
  endpoint_mix?: EndpointWeight[] | null
  /** Fraction of generation requests streamed; absent or null: `stream` decides (all or none). */
  stream_ratio?: number | null
  /** Replay or model; absent or null: synthetic requests from the specs above. */
  workload?: WorkloadSource | null
  long_tail?: LongTailConfig | null
  adversarial?: AdversarialSpec | null
}

export class RunConfigError extends Error {
  override name = 'RunConfigError'
  readonly code = 'ERR_BAD_RUN_CONFIG'
}

/** Checks the invariants that the typed parsers cannot: the combination of settings. */
export function validateRunConfig(c: RunConfig): RunConfig {
  const fail = (msg: string): never => { throw new RunConfigError(msg) }
  let url: URL | undefined
  try { url = new URL(c.target) } catch { fail(`--target: "${c.target}" is not a URL (expected e.g. http://127.0.0.1:8000)`) }
  if (url !== undefined && url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(`--target: "${c.target}" must be http:// or https://`)
  }
  if (c.mode === 'open' && !(typeof c.rate === 'number' && c.rate > 0 && Number.isFinite(c.rate))) {
    fail(`--rate: must be a positive number of requests per second, got ${String(c.rate)}`)
  }
  if (c.mode === 'closed' && !(Number.isInteger(c.concurrency) && (c.concurrency as number) > 0)) {
    fail(`--concurrency: must be a positive integer, got ${String(c.concurrency)}`)
  }
  if (!(c.duration_ms > 0)) fail(`--duration: must be positive, got ${c.duration_ms} ms`)
  if (!(c.burstiness > 0)) fail(`--burstiness: must be positive, got ${c.burstiness}`)
  if (!(Number.isInteger(c.max_in_flight) && c.max_in_flight > 0)) fail(`--max-in-flight: must be a positive integer, got ${c.max_in_flight}`)
  if (!(Number.isInteger(c.connections) && c.connections > 0)) fail(`--connections: must be a positive integer, got ${c.connections}`)
  if (c.http_client !== undefined && !HTTP_CLIENT_KINDS.includes(c.http_client)) fail(`--http-client: "${String(c.http_client)}" is not one of ${HTTP_CLIENT_KINDS.join(', ')}`)
  if (!(c.timeout_ms > 0)) fail(`--timeout: must be positive, got ${c.timeout_ms} ms`)
  if (!(c.max_error_rate >= 0 && c.max_error_rate <= 1)) fail(`--max-error-rate: must be within 0..1, got ${c.max_error_rate}`)
  if (c.model.length === 0) fail('--model: must not be empty')
  if (c.endpoint !== '/v1/chat/completions' && c.endpoint !== '/v1/completions') {
    fail(`--endpoint: "${String(c.endpoint)}" is not /v1/chat/completions or /v1/completions (embeddings and moderations go in --endpoint-mix, e.g. embeddings=1)`)
  }
  if (c.endpoint_mix != null) {
    if (!Array.isArray(c.endpoint_mix) || c.endpoint_mix.length === 0) fail('--endpoint-mix: needs at least one endpoint')
    let total = 0
    for (const e of c.endpoint_mix) {
      if (!ENDPOINTS.includes(e.endpoint)) fail(`--endpoint-mix: "${String(e.endpoint)}" is not one of ${ENDPOINTS.join(', ')}`)
      if (!(e.weight >= 0) || !Number.isFinite(e.weight)) fail(`--endpoint-mix: the weight of ${e.endpoint} must be a non-negative number, got ${e.weight}`)
      total += e.weight
    }
    if (!(total > 0)) fail('--endpoint-mix: the weights must not all be 0')
  }
  if (c.stream_ratio != null && !(c.stream_ratio >= 0 && c.stream_ratio <= 1)) fail(`--stream-ratio: must be within 0..1, got ${c.stream_ratio}`)
  const w = c.workload
  if (w != null) {
    if (w.kind === 'replay') {
      if (typeof w.log !== 'string' || w.log === '') fail('--replay: needs a log file')
      if (!(w.speedup > 0) || !Number.isFinite(w.speedup)) fail(`--speedup: must be a positive number, got ${w.speedup}`)
      if (!(w.rate_scale > 0) || !Number.isFinite(w.rate_scale)) fail(`--rate-scale: must be a positive number, got ${w.rate_scale}`)
      if (!(w.from_ms >= 0)) fail(`--window: the start must be >= 0 ms, got ${w.from_ms}`)
      if (w.to_ms !== null && !(w.to_ms > w.from_ms)) fail(`--window: the end (${w.to_ms} ms) must be after the start (${w.from_ms} ms)`)
      if (c.mode !== 'open') fail('--replay: a replay is open loop (the log sets the arrivals); drop --concurrency')
      if (c.long_tail != null) fail('--long-tail: a replay sends the log as it is; oversampling applies to --workload models and synthetic runs')
    } else if (w.kind === 'model') {
      if (typeof w.model !== 'string' || w.model === '') fail('--workload: needs a model file')
      for (const [k, v] of [['rate-scale', w.rate_scale], ['input-scale', w.input_scale], ['output-scale', w.output_scale]] as const) {
        if (!(v > 0) || !Number.isFinite(v)) fail(`--${k}: must be a positive number, got ${v}`)
      }
    } else {
      fail(`workload: unknown kind "${String((w as { kind: unknown }).kind)}" (replay or model)`)
    }
  }
  const lt = c.long_tail
  if (lt != null) {
    if (!(lt.threshold > 0 && lt.threshold < 0.5)) fail(`--long-tail: threshold must be in (0, 0.5), got ${lt.threshold}`)
    if (!(lt.factor >= 1) || !Number.isFinite(lt.factor)) fail(`--long-tail: factor must be a number >= 1, got ${lt.factor}`)
  }
  const adv = c.adversarial
  if (adv != null) {
    if (!(adv.ratio > 0 && adv.ratio <= 1)) fail(`--adversarial: the ratio must be in (0, 1], got ${adv.ratio}`)
    if (!Array.isArray(adv.kinds) || adv.kinds.length === 0) fail('--adversarial: needs at least one kind')
    for (const k of adv.kinds) if (!ADVERSARIAL_KINDS.includes(k)) fail(`--adversarial: "${String(k)}" is not one of ${ADVERSARIAL_KINDS.join(', ')}`)
  }
  return c
}
