import { readFileSync } from 'node:fs'
import { MAX_LENGTH_TOKENS } from '@loadmesh/workload'
import type { ArrivalModel, ClassModel, FitResult, GapProcess, LengthDistribution, LengthFit, SessionModel, WorkloadModel } from './types.ts'
import { WORKLOAD_ENDPOINTS } from './types.ts'
import { ModelFormatError } from './errors.ts'
import { createLengthModel } from './length-model.ts'

export const MODEL_SCHEMA = 'loadmesh.workload-model/v1'

const FORMATS = ['azure', 'openai', 'generic-csv', 'generic-jsonl']

/** Reads and validates a model file (model.json); throws ModelFormatError naming the file and the JSON path. */
export function loadWorkloadModel (path: string): WorkloadModel {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new ModelFormatError(path, '', e.code === 'ENOENT' ? 'no such file' : `cannot read: ${e.message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ModelFormatError(path, '', `not valid JSON: ${(err as Error).message}`)
  }
  return validateWorkloadModel(value, path)
}

class Checker {
  readonly file: string
  constructor (file: string) { this.file = file }
  fail (path: string, message: string): never { throw new ModelFormatError(this.file, path, message) }
  show (v: unknown): string {
    const s = JSON.stringify(v)
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s
  }
  object (v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `expected an object, got ${this.show(v)}`)
    return v as Record<string, unknown>
  }
  array (v: unknown, path: string, nonEmpty = false): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `expected an array, got ${this.show(v)}`)
    if (nonEmpty && v.length === 0) this.fail(path, 'must not be empty')
    return v
  }
  number (v: unknown, path: string, test: (x: number) => boolean, what: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || !test(v)) this.fail(path, `expected ${what}, got ${this.show(v)}`)
    return v
  }
  finite (v: unknown, path: string): number { return this.number(v, path, () => true, 'a finite number') }
  positive (v: unknown, path: string): number { return this.number(v, path, (x) => x > 0, 'a positive number') }
  nonNegative (v: unknown, path: string): number { return this.number(v, path, (x) => x >= 0, 'a non-negative number') }
  count (v: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(v, path, (x) => Number.isSafeInteger(x) && x >= 0 && x <= max, max < Number.MAX_SAFE_INTEGER ? `an integer in 0..${max}` : 'a non-negative integer')
  }
  string (v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `expected a string, got ${this.show(v)}`)
    return v
  }
  oneOf<T extends string> (v: unknown, path: string, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T)) this.fail(path, `expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${this.show(v)}`)
    return v as T
  }
}

function lengthDistribution (c: Checker, v: unknown, path: string): LengthDistribution {
  const o = c.object(v, path)
  const kind = c.oneOf(o.kind, `${path}.kind`, ['lognormal', 'lognormal-mixture', 'negbin', 'negbin-mixture', 'empirical'] as const)
  let d: LengthDistribution
  const window = (): { min: number; max: number } => {
    const min = c.count(o.min, `${path}.min`, MAX_LENGTH_TOKENS)
    const max = c.count(o.max, `${path}.max`, MAX_LENGTH_TOKENS)
    if (min > max) c.fail(`${path}.max`, `must be at least min (${min}), got ${max}`)
    return { min, max }
  }
  const sigma = (x: unknown, p: string): number => c.number(x, p, (s) => s > 0 && s <= 10, 'a number in (0, 10]')
  const weights = (list: unknown[], p: string): void => {
    if (!list.some((x) => (x as { weight: number }).weight > 0)) c.fail(p, 'at least one component needs a positive weight')
  }
  switch (kind) {
    case 'lognormal':
      d = { kind, mu: c.finite(o.mu, `${path}.mu`), sigma: sigma(o.sigma, `${path}.sigma`), ...window() }
      break
    case 'negbin':
      d = { kind, mean: c.positive(o.mean, `${path}.mean`), r: c.positive(o.r, `${path}.r`), ...window() }
      break
    case 'lognormal-mixture': {
      const list = c.array(o.components, `${path}.components`, true).map((x, i) => {
        const q = c.object(x, `${path}.components[${i}]`)
        return { weight: c.nonNegative(q.weight, `${path}.components[${i}].weight`), mu: c.finite(q.mu, `${path}.components[${i}].mu`), sigma: sigma(q.sigma, `${path}.components[${i}].sigma`) }
      })
      weights(list, `${path}.components`)
      d = { kind, components: list, ...window() }
      break
    }
    case 'negbin-mixture': {
      const list = c.array(o.components, `${path}.components`, true).map((x, i) => {
        const q = c.object(x, `${path}.components[${i}]`)
        return { weight: c.nonNegative(q.weight, `${path}.components[${i}].weight`), mean: c.positive(q.mean, `${path}.components[${i}].mean`), r: c.positive(q.r, `${path}.components[${i}].r`) }
      })
      weights(list, `${path}.components`)
      d = { kind, components: list, ...window() }
      break
    }
    case 'empirical': {
      const values = c.array(o.values, `${path}.values`, true).map((x, i) => c.count(x, `${path}.values[${i}]`, MAX_LENGTH_TOKENS))
      const counts = c.array(o.counts, `${path}.counts`, true).map((x, i) => c.positive(x, `${path}.counts[${i}]`))
      if (values.length !== counts.length) c.fail(`${path}.counts`, `must have one count per value (${values.length}), got ${counts.length}`)
      for (let i = 1; i < values.length; i++) if (values[i] <= values[i - 1]) c.fail(`${path}.values[${i}]`, `values must be strictly increasing, got ${values[i]} after ${values[i - 1]}`)
      d = { kind, values, counts }
      break
    }
  }
  try {
    createLengthModel(d, path)
  } catch (err) {
    c.fail(path, (err as Error).message.replace(`${path}: `, ''))
  }
  return d
}

function gapProcess (c: Checker, v: unknown, path: string): GapProcess {
  const o = c.object(v, path)
  const kind = c.oneOf(o.kind, `${path}.kind`, ['poisson', 'gamma', 'mmpp2'] as const)
  if (kind === 'poisson') return { kind }
  if (kind === 'gamma') return { kind, shape: c.number(o.shape, `${path}.shape`, (x) => x >= 1e-3 && x <= 1e6, 'a shape in [0.001, 1e6]') }
  const rates = c.array(o.rates, `${path}.rates`).map((x, i) => c.nonNegative(x, `${path}.rates[${i}]`))
  const sw = c.array(o.switchRates, `${path}.switchRates`).map((x, i) => c.positive(x, `${path}.switchRates[${i}]`))
  if (rates.length !== 2) c.fail(`${path}.rates`, `expected 2 rates, got ${rates.length}`)
  if (sw.length !== 2) c.fail(`${path}.switchRates`, `expected 2 switching rates, got ${sw.length}`)
  if (!(rates[0] + rates[1] > 0)) c.fail(`${path}.rates`, 'at least one rate must be positive')
  return { kind, rates: [rates[0], rates[1]], switchRates: [sw[0], sw[1]] }
}

/**
 * A fit result. Only `chosen` is required, so a model can be written by hand; the rest
 * (candidates, goodness of fit) is what fitting records and is kept as is.
 */
function fitResult<D> (c: Checker, v: unknown, path: string, item: (c: Checker, v: unknown, path: string) => D): FitResult<D> {
  const o = c.object(v, path)
  const chosen = item(c, o.chosen, `${path}.chosen`)
  const candidates = o.candidates === undefined ? [] : c.array(o.candidates, `${path}.candidates`)
  const parsed = candidates.map((x, i) => {
    const q = c.object(x, `${path}.candidates[${i}]`)
    return {
      distribution: item(c, q.distribution, `${path}.candidates[${i}].distribution`),
      params: c.count(q.params, `${path}.candidates[${i}].params`),
      ks: c.number(q.ks, `${path}.candidates[${i}].ks`, (k) => k >= 0 && k <= 1, 'a KS distance in [0, 1]'),
      cvKs: q.cvKs === null || q.cvKs === undefined ? null : c.number(q.cvKs, `${path}.candidates[${i}].cvKs`, (k) => k >= 0 && k <= 1, 'a KS distance in [0, 1]'),
      logLikelihood: q.logLikelihood === null || q.logLikelihood === undefined ? null : c.finite(q.logLikelihood, `${path}.candidates[${i}].logLikelihood`),
      qq: q.qq === undefined ? [] : c.array(q.qq, `${path}.candidates[${i}].qq`) as FitResult<D>['candidates'][number]['qq']
    }
  })
  const chosenIndex = o.chosenIndex === undefined ? -1 : c.number(o.chosenIndex, `${path}.chosenIndex`, (x) => Number.isInteger(x) && x >= -1 && x < parsed.length, `an index into candidates (0..${parsed.length - 1}) or -1`)
  return {
    chosen,
    chosenIndex,
    reason: o.reason === undefined ? 'given' : c.string(o.reason, `${path}.reason`),
    candidates: parsed,
    n: o.n === undefined ? 0 : c.count(o.n, `${path}.n`)
  }
}

function lengthFit (c: Checker, v: unknown, path: string): LengthFit {
  return fitResult(c, v, path, lengthDistribution)
}

function arrivals (c: Checker, v: unknown, path: string): ArrivalModel {
  const o = c.object(v, path)
  const rates = c.array(o.ratePerMinute, `${path}.ratePerMinute`, true).map((x, i) => c.nonNegative(x, `${path}.ratePerMinute[${i}]`))
  if (!rates.some((r) => r > 0)) c.fail(`${path}.ratePerMinute`, 'at least one minute needs a positive rate')
  const periodMs = c.positive(o.periodMs, `${path}.periodMs`)
  const lo = 60_000 * (rates.length - 1)
  if (!(periodMs > lo && periodMs <= lo + 60_000)) c.fail(`${path}.periodMs`, `must cover the ${rates.length} minutes of ratePerMinute, i.e. be in (${lo}, ${lo + 60_000}], got ${periodMs}`)
  const optional = (name: string): number => (o[name] === undefined ? Number.NaN : c.finite(o[name], `${path}.${name}`))
  let total = 0
  rates.forEach((r, j) => { total += r * (j < rates.length - 1 ? 60_000 : periodMs - lo) / 60_000 })
  return {
    ratePerMinute: rates,
    periodMs,
    meanRatePerSec: total * 1000 / periodMs,
    gapCv: optional('gapCv'),
    rescaledGapCv: optional('rescaledGapCv'),
    lag1Autocorrelation: optional('lag1Autocorrelation'),
    process: fitResult(c, o.process, `${path}.process`, gapProcess),
    unit: o.unit === undefined ? 'request' : c.oneOf(o.unit, `${path}.unit`, ['request', 'session'] as const)
  }
}

function classModel (c: Checker, v: unknown, path: string): ClassModel {
  const o = c.object(v, path)
  const labelsObj = o.labels === undefined ? {} : c.object(o.labels, `${path}.labels`)
  const labels: Record<string, string> = {}
  for (const [k, x] of Object.entries(labelsObj)) labels[k] = c.string(x, `${path}.labels.${k}`)
  return {
    key: c.string(o.key, `${path}.key`),
    labels,
    weight: c.nonNegative(o.weight, `${path}.weight`),
    count: o.count === undefined ? 0 : c.count(o.count, `${path}.count`),
    endpoint: c.oneOf(o.endpoint, `${path}.endpoint`, WORKLOAD_ENDPOINTS),
    streamRatio: o.streamRatio === null || o.streamRatio === undefined ? null : c.number(o.streamRatio, `${path}.streamRatio`, (x) => x >= 0 && x <= 1, 'a ratio in [0, 1] or null'),
    input: o.input === null || o.input === undefined ? null : lengthFit(c, o.input, `${path}.input`),
    output: o.output === null || o.output === undefined ? null : lengthFit(c, o.output, `${path}.output`)
  }
}

function sessions (c: Checker, v: unknown, path: string): SessionModel {
  const o = c.object(v, path)
  const turns = lengthFit(c, o.turns, `${path}.turns`)
  const t = turns.chosen
  if ((t.kind === 'empirical' ? t.values[0] : t.min) < 1) c.fail(`${path}.turns.chosen`, 'a session has at least 1 turn: the distribution must start at 1 or above')
  const contextMode = c.oneOf(o.contextMode, `${path}.contextMode`, ['accumulate', 'independent'] as const)
  const growth = o.growthTokens === null || o.growthTokens === undefined ? null : lengthFit(c, o.growthTokens, `${path}.growthTokens`)
  if (contextMode === 'accumulate' && growth === null) c.fail(`${path}.growthTokens`, 'required when contextMode is "accumulate"')
  return {
    count: o.count === undefined ? 0 : c.count(o.count, `${path}.count`),
    turns,
    thinkTimeMs: lengthFit(c, o.thinkTimeMs, `${path}.thinkTimeMs`),
    contextMode,
    growthTokens: growth,
    prefixReuse: o.prefixReuse === undefined ? 0 : c.number(o.prefixReuse, `${path}.prefixReuse`, (x) => x >= 0 && x <= 1, 'a share in [0, 1]')
  }
}

/** Validates a parsed model (from JSON or the wire); `source` names it in errors. */
export function validateWorkloadModel (value: unknown, source: string): WorkloadModel {
  const c = new Checker(source)
  const o = c.object(value, '')
  if (o.schema !== MODEL_SCHEMA) {
    if (typeof o.schema === 'string' && o.schema.startsWith('loadmesh.workload-model/')) c.fail('schema', `unsupported version ${JSON.stringify(o.schema)}; this loadmesh reads ${MODEL_SCHEMA}`)
    c.fail('schema', `expected ${JSON.stringify(MODEL_SCHEMA)} (not a loadmesh workload model?), got ${c.show(o.schema)}`)
  }
  const src = c.object(o.source ?? {}, 'source')
  const classes = c.array(o.classes, 'classes', true).map((x, i) => classModel(c, x, `classes[${i}]`))
  if (!classes.some((k) => k.weight > 0)) c.fail('classes', 'at least one class needs a positive weight')
  const keys = new Set<string>()
  classes.forEach((k, i) => {
    if (keys.has(k.key)) c.fail(`classes[${i}].key`, `duplicate class key ${JSON.stringify(k.key)}`)
    keys.add(k.key)
  })
  const model: WorkloadModel = {
    schema: MODEL_SCHEMA,
    source: {
      file: src.file === undefined ? source : c.string(src.file, 'source.file'),
      format: src.format === undefined ? 'generic-jsonl' : c.oneOf(src.format, 'source.format', FORMATS as Array<WorkloadModel['source']['format']>),
      records: src.records === undefined ? 0 : c.count(src.records, 'source.records'),
      durationMs: src.durationMs === undefined ? 0 : c.nonNegative(src.durationMs, 'source.durationMs'),
      startedAt: src.startedAt === undefined || src.startedAt === null ? null : c.string(src.startedAt, 'source.startedAt')
    },
    selection: o.selection === undefined ? '' : c.string(o.selection, 'selection'),
    input: lengthFit(c, o.input, 'input'),
    output: lengthFit(c, o.output, 'output'),
    arrivals: arrivals(c, o.arrivals, 'arrivals'),
    classes,
    sessions: o.sessions === null || o.sessions === undefined ? null : sessions(c, o.sessions, 'sessions')
  }
  if (src.attribution !== undefined) model.source.attribution = c.string(src.attribution, 'source.attribution')
  if (model.sessions !== null && model.arrivals.unit !== 'session') c.fail('arrivals.unit', 'must be "session" when the model has sessions (arrivals then start sessions)')
  if (model.sessions === null && model.arrivals.unit === 'session') c.fail('sessions', 'arrivals.unit is "session" but the model has no sessions')
  return model
}
