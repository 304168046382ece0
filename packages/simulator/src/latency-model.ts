import { createDurationSampler, parseDurationSpec } from '@loadmesh/workload'
import type { DurationSpec, Rng } from '@loadmesh/workload'
import type { SimRequest } from './engine.ts'

/**
 * The seam between "how long things take" and "how an engine schedules them". The fixed engine asks
 * a LatencyModel per request and per token; a load-dependent model (or a replay of measured
 * latencies) can replace the sampled one without touching the engine or the server.
 */
export interface LatencyModel {
  /** Milliseconds from arrival to the first token. */
  ttftMs(req: SimRequest): number
  /** Milliseconds between token `index - 1` and token `index` (index >= 1). */
  itlMs(req: SimRequest, index: number): number
}

export interface SampledLatencyOptions {
  /** A duration spec ('100ms', a distribution, ...) or its text form. */
  ttft: DurationSpec | string
  itl: DurationSpec | string
}

/**
 * TTFT and every ITL drawn independently from seeded duration samplers. The two samplers use separate
 * sub-streams so changing the ITL spec does not reshuffle TTFTs. Draws are shared across requests in
 * arrival order: identical for the same seed and the same request order.
 */
export function createSampledLatency(opts: SampledLatencyOptions, rng: Rng): LatencyModel {
  const ttftSpec = typeof opts.ttft === 'string' ? parseDurationSpec(opts.ttft, 'simulator ttft') : opts.ttft
  const itlSpec = typeof opts.itl === 'string' ? parseDurationSpec(opts.itl, 'simulator itl') : opts.itl
  const ttft = createDurationSampler(ttftSpec, rng.split('ttft'))
  const itl = createDurationSampler(itlSpec, rng.split('itl'))
  return {
    ttftMs: () => Math.max(0, ttft.sample()),
    itlMs: () => Math.max(0, itl.sample())
  }
}
