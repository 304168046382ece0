import type { LengthSpec, ArrivalKind } from '@loadmesh/workload'
import type { Slo } from '@loadmesh/metrics'

/** OpenAI-compatible endpoints the injector drives today. */
export type Endpoint = '/v1/chat/completions' | '/v1/completions'

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
  /** Exit non-zero when failed / sent exceeds this fraction. */
  max_error_rate: number
  fail_on_slo: boolean
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
  if (!(c.timeout_ms > 0)) fail(`--timeout: must be positive, got ${c.timeout_ms} ms`)
  if (!(c.max_error_rate >= 0 && c.max_error_rate <= 1)) fail(`--max-error-rate: must be within 0..1, got ${c.max_error_rate}`)
  if (c.model.length === 0) fail('--model: must not be empty')
  return c
}
