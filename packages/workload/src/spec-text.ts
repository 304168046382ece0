import { WorkloadSpecError } from './errors.ts'

/**
 * The small grammar shared by length and duration specs: `kind:key=value,key=value`, or `kind:value`
 * for fixed. Errors are prefixed with where the spec came from and the whole text, then name the bad
 * part: `--input-tokens: "lognormal:mean=abc,stdev=5": mean must be a positive number, got "abc"`.
 */
export interface SpecContext {
  /** Where the text came from: a flag (`--input-tokens`), a config key. */
  where: string
  /** The whole spec text as given (or its JSON when the spec arrived as an object). */
  text: string
}

export function specError(ctx: SpecContext, problem: string): WorkloadSpecError {
  return new WorkloadSpecError(`${ctx.where}: "${ctx.text}": ${problem}`)
}

/**
 * Splits `kind:body`. Text without a colon is a bare value (kind null), unless it is one of `kinds`
 * on its own, which is that kind with no parameters (so `lognormal` says which are missing).
 */
export function splitKind(text: string, kinds: readonly string[]): { kind: string | null; body: string } {
  const colon = text.indexOf(':')
  if (colon < 0) {
    const bare = text.trim()
    return kinds.includes(bare.toLowerCase()) ? { kind: bare.toLowerCase(), body: '' } : { kind: null, body: bare }
  }
  return { kind: text.slice(0, colon).trim().toLowerCase(), body: text.slice(colon + 1).trim() }
}

export interface ParamShape {
  required: readonly string[]
  optional: readonly string[]
  /** How the kind is written in full, for error messages: `lognormal:mean=M,stdev=S[,min=A][,max=B]`. */
  usage: string
}

/** Parses `key=value,...` against a shape: every key known, none repeated, all required present. */
export function parseParams(ctx: SpecContext, kind: string, body: string, shape: ParamShape): Map<string, string> {
  const params = new Map<string, string>()
  const known = [...shape.required, ...shape.optional]
  const takes = `${kind} takes ${known.join(', ')}; e.g. ${shape.usage}`
  if (body !== '') {
    for (const rawPart of body.split(',')) {
      const part = rawPart.trim()
      if (part === '') throw specError(ctx, `empty parameter (stray comma?); ${takes}`)
      const eq = part.indexOf('=')
      if (eq < 0) throw specError(ctx, `expected key=value, got "${part}"; ${takes}`)
      const key = part.slice(0, eq).trim().toLowerCase()
      const value = part.slice(eq + 1).trim()
      if (!known.includes(key)) throw specError(ctx, `unknown parameter "${key}" (${takes})`)
      if (params.has(key)) throw specError(ctx, `parameter "${key}" given twice`)
      if (value === '') throw specError(ctx, `parameter "${key}" has no value`)
      params.set(key, value)
    }
  }
  for (const key of shape.required) {
    if (!params.has(key)) throw specError(ctx, `missing parameter "${key}" (${takes})`)
  }
  return params
}

const NUMBER = /^[+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const INTEGER = /^[+]?\d+$/

/** A positive finite decimal number (`5`, `0.5`, `1e3`); `raw` is quoted in the error. */
export function parsePositive(ctx: SpecContext, name: string, raw: string): number {
  const v = NUMBER.test(raw) ? Number(raw) : Number.NaN
  if (!(v > 0) || !Number.isFinite(v)) throw specError(ctx, `${name} must be a positive number, got "${raw}"`)
  return v
}

/** A non-negative integer written in digits; `raw` is quoted in the error. */
export function parseCount(ctx: SpecContext, name: string, raw: string): number {
  const v = INTEGER.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(v)) throw specError(ctx, `${name} must be a non-negative integer, got "${raw}"`)
  return v
}

/** Text for a spec given as an object, for error messages: its JSON, or a description if it has none. */
export function describeObject(spec: unknown): string {
  try {
    return JSON.stringify(spec) ?? String(spec)
  } catch {
    return String(spec)
  }
}

export function isPositive(v: unknown): v is number {
  return typeof v === 'number' && v > 0 && Number.isFinite(v)
}

/** A probability for an error message; 0 means it underflowed. */
export function formatMass(p: number): string {
  return p > 0 ? p.toExponential(1) : 'below 1e-300'
}
