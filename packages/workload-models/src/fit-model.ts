import type { ClassModel, FitOptions, WorkloadEndpoint, WorkloadLog, WorkloadModel, WorkloadRecord } from './types.ts'
import { WorkloadModelOptionError } from './errors.ts'
import type { LengthFamily } from './fit-lengths.ts'
import { fitLengths, describeDistribution } from './fit-lengths.ts'
import { fitArrivals } from './fit-arrivals.ts'
import { fitSessions, groupSessions } from './fit-sessions.ts'
import { AZURE_ATTRIBUTION } from './read-log.ts'
import { MODEL_SCHEMA } from './model-file.ts'

/**
 * Candidate families. Prompt lengths: log-normal (and mixtures), the usual model for them, and
 * cheap to fit by interval EM however many distinct values there are. Output lengths: negative
 * binomial (a count model) and log-normal, each with mixtures. Both: the empirical distribution.
 */
const INPUT_FAMILIES: readonly LengthFamily[] = ['lognormal', 'empirical']
const OUTPUT_FAMILIES: readonly LengthFamily[] = ['negbin', 'lognormal', 'empirical']

/** Endpoint of records that do not name one (the Azure traces are chat/conversation services). */
export const DEFAULT_ENDPOINT: WorkloadEndpoint = '/v1/chat/completions'

export const SELECTION_RULE = 'Each candidate is fitted by maximum likelihood and scored by its Kolmogorov-Smirnov distance to the data: ' +
  'two-fold cross-validated for lengths (fit on the odd-indexed records, measure on the even ones and vice versa), in-sample for arrival gaps. ' +
  'The chosen candidate is the one with the fewest free parameters whose score is within 1/sqrt(n) of the best score: ' +
  'smaller differences are within the KS statistic\'s own sampling noise (about 0.87/sqrt(n)), so they are no evidence for the extra parameters.'

/** The class dimensions present in a log: endpoint (when any record names one) and every class label. */
function classDimensions (records: readonly WorkloadRecord[], classBy: readonly string[] | undefined): string[] {
  const dims = new Set<string>()
  for (const r of records) {
    if (r.endpoint !== undefined) dims.add('endpoint')
    for (const k of Object.keys(r.classes)) dims.add(k)
  }
  if (classBy === undefined) return [...dims].sort((a, b) => (a === 'endpoint' ? -1 : b === 'endpoint' ? 1 : a < b ? -1 : a > b ? 1 : 0))
  for (const d of classBy) {
    if (!dims.has(d)) throw new WorkloadModelOptionError(`classBy: the log has no "${d}" labels (it has: ${dims.size > 0 ? [...dims].join(', ') : 'none'})`)
  }
  return [...classBy]
}

function labelsOf (r: WorkloadRecord, dims: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const d of dims) {
    const v = d === 'endpoint' ? r.endpoint : r.classes[d]
    if (v !== undefined) labels[d] = v
  }
  return labels
}

function keyOf (labels: Record<string, string>, dims: readonly string[]): string {
  if (dims.length === 0) return 'all'
  return dims.map((d) => `${d}=${labels[d] ?? ''}`).join('|')
}

/**
 * Fits a workload model to a log: lengths (overall and per class), arrivals (a per-minute profile
 * and a gap process), classes and, when the log has session ids, sessions. Options tune class
 * handling and mixture sizes; progress goes to opts.onProgress.
 */
export function fitWorkloadModel (log: WorkloadLog, opts: FitOptions = {}): WorkloadModel {
  const progress = opts.onProgress ?? (() => {})
  const minClass = opts.minClassRecords ?? 500
  const maxComponents = opts.maxMixtureComponents ?? 6
  const maxClasses = opts.maxClasses ?? 200
  if (!(Number.isInteger(minClass) && minClass >= 1)) throw new WorkloadModelOptionError(`minClassRecords must be a positive integer, got ${String(minClass)}`)
  if (!(Number.isInteger(maxComponents) && maxComponents >= 1 && maxComponents <= 12)) throw new WorkloadModelOptionError(`maxMixtureComponents must be an integer in 1..12, got ${String(maxComponents)}`)
  const records = log.records
  if (records.length === 0) throw new WorkloadModelOptionError(`${log.source}: no records to fit`)
  const hasSessions = records.some((r) => r.sessionId !== undefined)
  const sessions = hasSessions ? groupSessions(records) : null
  // With sessions, later turns' inputs are derived from the conversation; input fits use first turns.
  const firstTurns = sessions === null ? records : sessions.map((s) => s.turns[0])

  progress(`fitting input lengths (${firstTurns.length} ${sessions === null ? 'requests' : 'first turns'})`)
  const input = fitLengths(firstTurns.map((r) => r.inputTokens), { maxComponents, families: INPUT_FAMILIES })
  progress(`  input: ${describeDistribution(input.chosen)}`)
  progress(`fitting output lengths (${records.length} requests)`)
  const output = fitLengths(records.map((r) => r.outputTokens), { maxComponents, families: OUTPUT_FAMILIES })
  progress(`  output: ${describeDistribution(output.chosen)}`)

  progress(`fitting arrivals (${sessions === null ? 'requests' : 'session starts'})`)
  const durationMs = records[records.length - 1].atMs
  const starts = firstTurns.map((r) => r.atMs)
  // Session starts span less than the log; the profile still covers the whole log.
  const requestPeriod = records.length >= 2 ? durationMs + durationMs / (records.length - 1) : undefined
  const arrivals = fitArrivals(starts, sessions === null ? 'request' : 'session', { periodMs: requestPeriod })
  progress(`  arrivals: ${arrivals.meanRatePerSec.toFixed(3)}/s, ${arrivals.process.reason}`)

  const dims = classDimensions(records, opts.classBy)
  const groups = new Map<string, { labels: Record<string, string>; arrivals: WorkloadRecord[]; all: WorkloadRecord[] }>()
  const unitOf = new Map<WorkloadRecord, WorkloadRecord>()
  if (sessions !== null) for (const s of sessions) for (const t of s.turns) unitOf.set(t, s.turns[0])
  for (const r of firstTurns) {
    const labels = labelsOf(r, dims)
    const key = keyOf(labels, dims)
    let g = groups.get(key)
    if (g === undefined) {
      if (groups.size >= maxClasses) {
        throw new WorkloadModelOptionError(`${log.source}: more than ${maxClasses} classes (distinct combinations of ${dims.join(', ')}); ` +
          'choose fewer class dimensions (classBy, --class-by) or raise maxClasses')
      }
      g = { labels, arrivals: [], all: [] }
      groups.set(key, g)
    }
    g.arrivals.push(r)
  }
  for (const r of records) {
    const head = unitOf.get(r) ?? r
    groups.get(keyOf(labelsOf(head, dims), dims))?.all.push(r)
  }
  const classes: ClassModel[] = []
  const single = groups.size === 1
  for (const [key, g] of [...groups.entries()].sort((a, b) => b[1].arrivals.length - a[1].arrivals.length)) {
    const own = !single && g.arrivals.length >= minClass
    if (own) progress(`fitting class ${key} (${g.arrivals.length})`)
    const streamed = g.all.filter((r) => r.stream !== undefined)
    classes.push({
      key,
      labels: g.labels,
      weight: g.arrivals.length / firstTurns.length,
      count: g.arrivals.length,
      endpoint: g.arrivals[0].endpoint ?? DEFAULT_ENDPOINT,
      streamRatio: streamed.length > 0 ? streamed.filter((r) => r.stream === true).length / streamed.length : null,
      input: own ? fitLengths(g.arrivals.map((r) => r.inputTokens), { maxComponents, families: INPUT_FAMILIES }) : null,
      output: own ? fitLengths(g.all.map((r) => r.outputTokens), { maxComponents, families: OUTPUT_FAMILIES }) : null
    })
  }

  let sessionModel = null
  if (sessions !== null) {
    progress(`fitting sessions (${sessions.length})`)
    sessionModel = fitSessions(sessions, maxComponents)
  }
  const attribution = opts.attribution ?? (log.format === 'azure' ? AZURE_ATTRIBUTION : undefined)
  const model: WorkloadModel = {
    schema: MODEL_SCHEMA,
    source: { file: log.source, format: log.format, records: records.length, durationMs, startedAt: log.startedAt },
    selection: SELECTION_RULE,
    input,
    output,
    arrivals,
    classes,
    sessions: sessionModel
  }
  if (attribution !== undefined) model.source.attribution = attribution
  return model
}
