import { parseDuration } from '@loadmesh/clock'
import type { Rng } from './rng.ts'
import type { SpecContext } from './spec-text.ts'
import { specError, splitKind, parseParams, describeObject, isPositive, formatMass } from './spec-text.ts'
import { TruncatedLogNormal } from './truncated-lognormal.ts'

/**
 * A random duration in milliseconds (the simulator's time to first token, inter-token latency...),
 * as plain JSON. Continuous: lognormal's `mean`/`stdev` describe the untruncated distribution, then
 * it is conditioned on [min, max]; `max: null` means no upper bound.
 */
export type DurationSpec =
  | { kind: 'fixed'; value: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'lognormal'; mean: number; stdev: number; min: number; max: number | null }

export type DurationKind = DurationSpec['kind']
export const DURATION_KINDS: readonly DurationKind[] = ['fixed', 'uniform', 'lognormal']

export interface DurationSampler {
  /** One duration in milliseconds. */
  sample(): number
  /** Exact mean in milliseconds. */
  mean(): number
  /** Exact standard deviation in milliseconds. */
  stdev(): number
  /** Exact P(duration <= ms). */
  cdf(ms: number): number
}

const MIN_WINDOW_MASS = 1e-12
const EXAMPLES = 'e.g. 100ms, fixed:100ms, uniform:min=5ms,max=15ms, lognormal:mean=100ms,stdev=20ms[,min=1ms][,max=5s]'

function parseMs(ctx: SpecContext, name: string, raw: string): number {
  try {
    return parseDuration(raw, name)
  } catch {
    throw specError(ctx, `${name} must be a duration like 100ms or 1.5s, got "${raw}"`)
  }
}

/**
 * Parses a duration spec: a plain duration (`100ms`, `1.5s`; fixed), `fixed:D`, `uniform:min=A,max=B`,
 * `lognormal:mean=M,stdev=S[,min=A][,max=B]`. `where` names the source in errors (e.g. `--sim-ttft`).
 */
export function parseDurationSpec(text: string, where = 'duration spec'): DurationSpec {
  const ctx: SpecContext = { where, text }
  const trimmed = text.trim()
  if (trimmed === '') throw specError(ctx, `empty duration spec (${EXAMPLES})`)
  const { kind, body } = splitKind(trimmed, DURATION_KINDS)
  let spec: DurationSpec
  if (kind === null || kind === 'fixed') {
    if (kind === null && !/^[+\d.]/.test(body)) {
      throw specError(ctx, `unknown kind "${body}" (valid kinds: ${DURATION_KINDS.join(', ')}; ${EXAMPLES})`)
    }
    if (body === '') throw specError(ctx, 'fixed needs a value, e.g. fixed:100ms')
    spec = { kind: 'fixed', value: parseMs(ctx, 'fixed duration', body) }
  } else if (kind === 'uniform') {
    const p = parseParams(ctx, kind, body, { required: ['min', 'max'], optional: [], usage: 'uniform:min=5ms,max=15ms' })
    spec = { kind, min: parseMs(ctx, 'min', p.get('min') as string), max: parseMs(ctx, 'max', p.get('max') as string) }
  } else if (kind === 'lognormal') {
    const p = parseParams(ctx, kind, body, {
      required: ['mean', 'stdev'], optional: ['min', 'max'], usage: 'lognormal:mean=100ms,stdev=20ms[,min=1ms][,max=5s]'
    })
    spec = {
      kind,
      mean: parseMs(ctx, 'mean', p.get('mean') as string),
      stdev: parseMs(ctx, 'stdev', p.get('stdev') as string),
      min: p.has('min') ? parseMs(ctx, 'min', p.get('min') as string) : 0,
      max: p.has('max') ? parseMs(ctx, 'max', p.get('max') as string) : null
    }
  } else {
    throw specError(ctx, `unknown kind "${kind}" (valid kinds: ${DURATION_KINDS.join(', ')}; ${EXAMPLES})`)
  }
  buildDuration(spec, ctx)
  return spec
}

/**
 * Milliseconds as a duration that parses back to exactly the same number: seconds from 1 s up and
 * microseconds below 1 ms when those spell it exactly, milliseconds otherwise.
 */
function formatMs(ms: number): string {
  const exact = (text: string): boolean => {
    if (/e/i.test(text)) return false
    try { return parseDuration(text) === ms } catch { return false }
  }
  if (ms >= 1000 && exact(`${ms / 1000}s`)) return `${ms / 1000}s`
  if (ms > 0 && ms < 1 && exact(`${ms * 1000}us`)) return `${ms * 1000}us`
  return `${ms}ms`
}

/** The canonical text of a spec; `parseDurationSpec(formatDurationSpec(s))` deep-equals `s`. */
export function formatDurationSpec(spec: DurationSpec): string {
  switch (spec.kind) {
    case 'fixed': return `fixed:${formatMs(spec.value)}`
    case 'uniform': return `uniform:min=${formatMs(spec.min)},max=${formatMs(spec.max)}`
    case 'lognormal':
      // min = 0 and max = null are the defaults, and the most common case: leave them out.
      return `lognormal:mean=${formatMs(spec.mean)},stdev=${formatMs(spec.stdev)}` +
        (spec.min === 0 ? '' : `,min=${formatMs(spec.min)}`) + (spec.max === null ? '' : `,max=${formatMs(spec.max)}`)
  }
}

/** A sampler for a spec (which may come from JSON or the wire: it is validated). */
export function createDurationSampler(spec: DurationSpec, rng: Rng, where = 'duration spec'): DurationSampler {
  const ctx: SpecContext = { where, text: describeObject(spec) }
  const d = buildDuration(spec, ctx)
  return {
    sample: () => d.sample(rng),
    mean: () => d.mean(),
    stdev: () => Math.sqrt(d.variance()),
    cdf: (ms) => d.cdf(ms)
  }
}

interface DurationDistribution {
  sample(rng: Rng): number
  mean(): number
  variance(): number
  cdf(ms: number): number
}

function checkMs(ctx: SpecContext, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
    throw specError(ctx, `${name} must be a non-negative finite number of milliseconds, got ${describeObject(v)}`)
  }
  return v
}

function buildDuration(spec: DurationSpec, ctx: SpecContext): DurationDistribution {
  if (spec === null || typeof spec !== 'object') throw specError(ctx, `not a duration spec (${EXAMPLES})`)
  switch (spec.kind) {
    case 'fixed': {
      const value = checkMs(ctx, 'fixed duration', spec.value)
      return { sample: () => value, mean: () => value, variance: () => 0, cdf: (ms) => (ms >= value ? 1 : 0) }
    }
    case 'uniform': {
      const min = checkMs(ctx, 'min', spec.min)
      const max = checkMs(ctx, 'max', spec.max)
      if (min > max) throw specError(ctx, `min (${formatMs(min)}) must not exceed max (${formatMs(max)})`)
      const width = max - min
      return {
        sample: (rng) => min + rng.next() * width,
        mean: () => (min + max) / 2,
        variance: () => (width * width) / 12,
        cdf: (ms) => (ms >= max ? 1 : ms <= min ? 0 : (ms - min) / width)
      }
    }
    case 'lognormal': {
      if (!isPositive(spec.mean)) throw specError(ctx, `mean must be a positive duration, got ${describeObject(spec.mean)}`)
      if (!isPositive(spec.stdev)) throw specError(ctx, `stdev must be a positive duration, got ${describeObject(spec.stdev)}`)
      const min = checkMs(ctx, 'min', spec.min)
      const max = spec.max === null ? Number.POSITIVE_INFINITY : checkMs(ctx, 'max', spec.max)
      if (!(min < max)) throw specError(ctx, `min (${formatMs(min)}) must be below max (${formatMs(max)})`)
      const d = new TruncatedLogNormal(spec.mean, spec.stdev, min, max)
      if (!(d.mass >= MIN_WINDOW_MASS)) {
        throw specError(ctx, `[min=${formatMs(min)}, max=${spec.max === null ? 'none' : formatMs(max)}] holds practically none ` +
          `of the distribution (probability ${formatMass(d.mass)}); check min/max against mean=${formatMs(spec.mean)}`)
      }
      return { sample: (rng) => d.sample(rng), mean: () => d.mean(), variance: () => d.variance(), cdf: (ms) => d.cdf(ms) }
    }
    default:
      throw specError(ctx, `unknown kind "${String((spec as { kind: unknown }).kind)}" (valid kinds: ${DURATION_KINDS.join(', ')})`)
  }
}
