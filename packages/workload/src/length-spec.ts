import type { Rng } from './rng.ts'
import type { SpecContext } from './spec-text.ts'
import { specError, splitKind, parseParams, parsePositive, parseCount, describeObject, isPositive, formatMass } from './spec-text.ts'
import { TruncatedLogNormal } from './truncated-lognormal.ts'
import { TruncatedNegativeBinomial } from './negative-binomial.ts'

/**
 * Token counts (prompt or output lengths), as plain JSON: specs go into reports and wire messages.
 * All bounds are inclusive integers. `mean`/`stdev` of lognormal and `mean`/`r` of negbin describe
 * the untruncated distribution; truncation to [min, max] then conditions on that window.
 */
export type LengthSpec =
  | { kind: 'fixed'; value: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'lognormal'; mean: number; stdev: number; min: number; max: number }
  | { kind: 'negbin'; mean: number; r: number; min: number; max: number }

export type LengthKind = LengthSpec['kind']
export const LENGTH_KINDS: readonly LengthKind[] = ['fixed', 'uniform', 'lognormal', 'negbin']

/** min when a lognormal/negbin spec gives none. */
export const DEFAULT_MIN_TOKENS = 1
/** max when a lognormal/negbin spec gives none: 128 Ki tokens, the size of a large context window. */
export const DEFAULT_MAX_TOKENS = 131_072
/** No length may exceed this (2^24), whatever the spec says: it bounds the sampler's tables. */
export const MAX_LENGTH_TOKENS = 16_777_216

/**
 * A window [min, max] that the distribution practically never visits (probability below this) is
 * taken for a mistake, e.g. `negbin:mean=10,r=2,min=5000`, rather than silently sampled.
 */
const MIN_WINDOW_MASS = 1e-12

export interface LengthSampler {
  /** One length, an integer in [min, max]. */
  sample(): number
  /** Exact mean of the (truncated, discrete) distribution. */
  mean(): number
  /** Exact standard deviation of the (truncated, discrete) distribution. */
  stdev(): number
  /** Exact P(length <= k). */
  cdf(k: number): number
}

const USAGE = {
  fixed: 'fixed:N (or just N)',
  uniform: 'uniform:min=A,max=B',
  lognormal: 'lognormal:mean=M,stdev=S[,min=A][,max=B]',
  negbin: 'negbin:mean=M,r=R[,min=A][,max=B]'
} as const
const EXAMPLES = 'e.g. 128, uniform:min=64,max=512, lognormal:mean=512,stdev=256, negbin:mean=256,r=2'

/**
 * Parses a length spec: `fixed:N` or `N`, `uniform:min=A,max=B`, `lognormal:mean=M,stdev=S[,min=A][,max=B]`,
 * `negbin:mean=M,r=R[,min=A][,max=B]`. `where` names the source in errors (e.g. `--input-tokens`).
 */
export function parseLengthSpec(text: string, where = 'length spec'): LengthSpec {
  const ctx: SpecContext = { where, text }
  const trimmed = text.trim()
  if (trimmed === '') throw specError(ctx, `empty length spec (${EXAMPLES})`)
  const { kind, body } = splitKind(trimmed, LENGTH_KINDS)
  let spec: LengthSpec
  if (kind === null || kind === 'fixed') {
    if (kind === null && !/^[+\d.]/.test(body)) {
      throw specError(ctx, `unknown kind "${body}" (valid kinds: ${LENGTH_KINDS.join(', ')}; ${EXAMPLES})`)
    }
    if (body === '') throw specError(ctx, `fixed needs a value, e.g. ${USAGE.fixed}`)
    spec = { kind: 'fixed', value: parseCount(ctx, 'fixed length', body) }
  } else if (kind === 'uniform') {
    const p = parseParams(ctx, kind, body, { required: ['min', 'max'], optional: [], usage: USAGE.uniform })
    spec = { kind, min: parseCount(ctx, 'min', p.get('min') as string), max: parseCount(ctx, 'max', p.get('max') as string) }
  } else if (kind === 'lognormal' || kind === 'negbin') {
    const second = kind === 'lognormal' ? 'stdev' : 'r'
    const p = parseParams(ctx, kind, body, { required: ['mean', second], optional: ['min', 'max'], usage: USAGE[kind] })
    const mean = parsePositive(ctx, 'mean', p.get('mean') as string)
    const other = parsePositive(ctx, second, p.get(second) as string)
    const min = p.has('min') ? parseCount(ctx, 'min', p.get('min') as string) : DEFAULT_MIN_TOKENS
    const max = p.has('max') ? parseCount(ctx, 'max', p.get('max') as string) : DEFAULT_MAX_TOKENS
    spec = kind === 'lognormal' ? { kind, mean, stdev: other, min, max } : { kind, mean, r: other, min, max }
  } else {
    throw specError(ctx, `unknown kind "${kind}" (valid kinds: ${LENGTH_KINDS.join(', ')}; ${EXAMPLES})`)
  }
  buildLength(spec, ctx) // range and window checks, with the same messages as for specs given as objects
  return spec
}

/** The canonical text of a spec; `parseLengthSpec(formatLengthSpec(s))` deep-equals `s`. */
export function formatLengthSpec(spec: LengthSpec): string {
  switch (spec.kind) {
    case 'fixed': return `fixed:${spec.value}`
    case 'uniform': return `uniform:min=${spec.min},max=${spec.max}`
    case 'lognormal': return `lognormal:mean=${spec.mean},stdev=${spec.stdev},min=${spec.min},max=${spec.max}`
    case 'negbin': return `negbin:mean=${spec.mean},r=${spec.r},min=${spec.min},max=${spec.max}`
  }
}

/**
 * A sampler for a spec (which may come from JSON or the wire: it is validated). Discretisation of
 * the log-normal: a length is round-half-up(X) where X is the log-normal truncated to
 * [min − ½, max + ½), so P(k) ∝ F(k + ½) − F(k − ½) exactly, for every k in [min, max].
 */
export function createLengthSampler(spec: LengthSpec, rng: Rng, where = 'length spec'): LengthSampler {
  const ctx: SpecContext = { where, text: describeObject(spec) }
  const d = buildLength(spec, ctx)
  return {
    sample: () => d.sample(rng),
    mean: () => d.mean(),
    stdev: () => Math.sqrt(d.variance()),
    cdf: (k) => d.cdf(k)
  }
}

interface LengthDistribution {
  sample(rng: Rng): number
  mean(): number
  variance(): number
  cdf(k: number): number
}

function checkCount(ctx: SpecContext, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw specError(ctx, `${name} must be a non-negative integer, got ${describeObject(v)}`)
  }
  if (v > MAX_LENGTH_TOKENS) throw specError(ctx, `${name} must be at most ${MAX_LENGTH_TOKENS} tokens, got ${v}`)
  return v
}

function checkPositive(ctx: SpecContext, name: string, v: unknown): number {
  if (!isPositive(v)) throw specError(ctx, `${name} must be a positive number, got ${describeObject(v)}`)
  return v
}

function checkWindow(ctx: SpecContext, min: number, max: number): void {
  if (min > max) throw specError(ctx, `min (${min}) must not exceed max (${max})`)
}

function windowError(ctx: SpecContext, spec: { mean: number; min: number; max: number }, mass: string): Error {
  return specError(
    ctx,
    `[min=${spec.min}, max=${spec.max}] holds practically none of the distribution (probability ${mass}); ` +
      `check min/max against mean=${spec.mean}` + (spec.max === DEFAULT_MAX_TOKENS ? ` (max defaults to ${DEFAULT_MAX_TOKENS})` : '')
  )
}

function buildLength(spec: LengthSpec, ctx: SpecContext): LengthDistribution {
  if (spec === null || typeof spec !== 'object') throw specError(ctx, `not a length spec (${EXAMPLES})`)
  switch (spec.kind) {
    case 'fixed': {
      const value = checkCount(ctx, 'fixed length', spec.value)
      return { sample: () => value, mean: () => value, variance: () => 0, cdf: (k) => (k >= value ? 1 : 0) }
    }
    case 'uniform': {
      const min = checkCount(ctx, 'min', spec.min)
      const max = checkCount(ctx, 'max', spec.max)
      checkWindow(ctx, min, max)
      const n = max - min + 1
      return {
        sample: (rng) => min + Math.floor(rng.next() * n),
        mean: () => (min + max) / 2,
        variance: () => (n * n - 1) / 12,
        cdf: (k) => Math.min(1, Math.max(0, (Math.floor(k) - min + 1) / n))
      }
    }
    case 'lognormal': {
      checkPositive(ctx, 'mean', spec.mean)
      checkPositive(ctx, 'stdev', spec.stdev)
      checkCount(ctx, 'min', spec.min)
      checkCount(ctx, 'max', spec.max)
      checkWindow(ctx, spec.min, spec.max)
      const d = new DiscreteLogNormal(spec.mean, spec.stdev, spec.min, spec.max)
      if (!(d.continuous.mass >= MIN_WINDOW_MASS)) throw windowError(ctx, spec, formatMass(d.continuous.mass))
      return d
    }
    case 'negbin': {
      checkPositive(ctx, 'mean', spec.mean)
      checkPositive(ctx, 'r', spec.r)
      checkCount(ctx, 'min', spec.min)
      checkCount(ctx, 'max', spec.max)
      checkWindow(ctx, spec.min, spec.max)
      const d = new TruncatedNegativeBinomial(spec.mean, spec.r, spec.min, spec.max)
      if (!(d.logMass >= Math.log(MIN_WINDOW_MASS))) {
        throw windowError(ctx, spec, `10^${(d.logMass / Math.LN10).toFixed(0)}`)
      }
      return { sample: (rng) => d.sample(rng), mean: () => d.mean(), variance: () => d.variance(), cdf: (k) => d.cdfAt(k) }
    }
    default:
      throw specError(ctx, `unknown kind "${String((spec as { kind: unknown }).kind)}" (valid kinds: ${LENGTH_KINDS.join(', ')})`)
  }
}

/** Mass below which the ends of the support are ignored when summing moments: far below 2^-53. */
const MOMENT_TAIL = 1e-20

/**
 * The log-normal discretised as documented on createLengthSampler. Sampling is O(1) (one inverse
 * normal CDF); the exact moments need a sum over the support and are computed on first use.
 */
class DiscreteLogNormal implements LengthDistribution {
  readonly continuous: TruncatedLogNormal
  readonly #min: number
  readonly #max: number
  #moments: { mean: number; variance: number } | undefined

  constructor(mean: number, stdev: number, min: number, max: number) {
    this.#min = min
    this.#max = max
    this.continuous = new TruncatedLogNormal(mean, stdev, min - 0.5, max + 0.5)
  }

  sample(rng: Rng): number {
    const k = Math.floor(this.continuous.sample(rng) + 0.5)
    return k < this.#min ? this.#min : k > this.#max ? this.#max : k
  }

  cdf(k: number): number {
    return this.continuous.cdf(Math.floor(k) + 0.5)
  }

  mean(): number {
    return this.#getMoments().mean
  }

  variance(): number {
    return this.#getMoments().variance
  }

  #getMoments(): { mean: number; variance: number } {
    if (this.#moments !== undefined) return this.#moments
    const c = this.continuous
    const lower = (k: number): number => c.massBetween(c.lo, k + 0.5) // P(K <= k)
    const upper = (k: number): number => c.massBetween(k - 0.5, c.hi) // P(K >= k)
    // Skip the stretches of the support that hold less than MOMENT_TAIL (binary searches; the
    // masses are computed tail-side, so they are accurate however small).
    let a = this.#min
    let b = this.#max
    while (a < b) {
      const mid = Math.floor((a + b + 1) / 2)
      if (lower(mid - 1) < MOMENT_TAIL) a = mid
      else b = mid - 1
    }
    const first = a
    a = first
    b = this.#max
    while (a < b) {
      const mid = Math.floor((a + b) / 2)
      if (upper(mid + 1) < MOMENT_TAIL) b = mid
      else a = mid + 1
    }
    const last = a
    const shift = Math.round(c.mean())
    let s0 = 0
    let s1 = 0
    let s2 = 0
    for (let k = first; k <= last; k++) {
      const p = c.massBetween(k - 0.5, k + 0.5)
      const d = k - shift
      s0 += p
      s1 += p * d
      s2 += p * d * d
    }
    const m1 = s1 / s0
    this.#moments = { mean: shift + m1, variance: Math.max(0, s2 / s0 - m1 * m1) }
    return this.#moments
  }
}
