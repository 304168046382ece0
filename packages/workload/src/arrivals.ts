import type { Rng } from './rng.ts'
import { WorkloadSpecError } from './errors.ts'
import { sampleExponential, sampleGamma } from './samplers.ts'

export type ArrivalKind = 'poisson' | 'gamma' | 'constant'

export const ARRIVAL_KINDS: readonly ArrivalKind[] = ['poisson', 'gamma', 'constant']

export interface ArrivalSpec {
  kind: ArrivalKind
  /** Mean arrival rate in requests per second. */
  rate: number
  /**
   * Gamma shape b (vLLM's `--burstiness`), used by kind 'gamma': b = 1 is Poisson, b < 1 is
   * burstier, b > 1 is smoother. The coefficient of variation of the gaps is 1/sqrt(b).
   */
  burstiness?: number
}

/** Gaps between consecutive open-loop arrivals. */
export interface ArrivalProcess {
  /** Milliseconds from the previous arrival to the next one. */
  nextGapMs(): number
}

export function parseArrivalKind(text: string, where = '--arrival'): ArrivalKind {
  const kind = text.trim().toLowerCase()
  if ((ARRIVAL_KINDS as readonly string[]).includes(kind)) return kind as ArrivalKind
  throw new WorkloadSpecError(`${where}: unknown arrival kind "${text}" (valid: ${ARRIVAL_KINDS.join(', ')})`)
}

/**
 * Arrival gaps with mean 1000/rate ms. Poisson: exponential gaps. Gamma: Gamma(shape b,
 * scale 1/(rate*b)) gaps as in vLLM's benchmark. Constant: exactly 1000/rate.
 */
export function createArrivalProcess(spec: ArrivalSpec, rng: Rng): ArrivalProcess {
  const { kind, rate, burstiness } = spec
  if (!(ARRIVAL_KINDS as readonly string[]).includes(kind)) {
    throw new WorkloadSpecError(`arrival: unknown kind "${String(kind)}" (valid: ${ARRIVAL_KINDS.join(', ')})`)
  }
  if (typeof rate !== 'number' || !(rate > 0) || !Number.isFinite(rate)) {
    throw new WorkloadSpecError(`arrival rate: must be a positive finite number of requests per second, got ${String(rate)}`)
  }
  if (burstiness !== undefined && (typeof burstiness !== 'number' || !(burstiness > 0) || !Number.isFinite(burstiness))) {
    throw new WorkloadSpecError(`arrival burstiness: must be a positive finite number (1 = Poisson), got ${String(burstiness)}`)
  }
  const meanGap = 1000 / rate
  switch (kind) {
    case 'constant':
      return { nextGapMs: () => meanGap }
    case 'poisson':
      return { nextGapMs: () => meanGap * sampleExponential(rng) }
    case 'gamma': {
      const b = burstiness ?? 1
      const scale = meanGap / b
      return { nextGapMs: () => scale * sampleGamma(rng, b) }
    }
  }
}
