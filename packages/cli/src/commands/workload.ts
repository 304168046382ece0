import { parseArgs } from 'node:util'
import { createWriteStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { randomInt } from 'node:crypto'
import type { Writable } from 'node:stream'
import { createRng } from '@loadmesh/workload'
import {
  readWorkloadLog, fitWorkloadModel, loadWorkloadModel, createModelSampler, createLengthModel
} from '@loadmesh/workload-models'
import type { FitResult, LengthDistribution, LengthFit, WorkloadLog, WorkloadModel, ModelOverrides } from '@loadmesh/workload-models'
import { EXIT, UsageError } from '../exit-codes.ts'
import { formatFlags, toParseArgsOptions } from '../options.ts'
import type { FlagDoc } from '../options.ts'
import type { Io } from '../io.ts'

const FIT_FLAGS: FlagDoc[] = [
  { name: 'out', type: 'string', arg: 'FILE', help: 'where to write the model (JSON); required' },
  { name: 'format', type: 'string', arg: 'azure|openai|generic-csv|generic-jsonl', help: 'log format (default: detected from the content)' },
  { name: 'class-by', type: 'string', arg: 'LIST', help: 'class dimensions, e.g. endpoint,intent (default: every label in the log)' },
  { name: 'min-class-records', type: 'string', arg: 'N', help: 'a class gets its own length fits from N records up (default 500)' },
  { name: 'max-components', type: 'string', arg: 'N', help: 'largest mixture tried, 1..12 (default 6; negative binomials at most 4)' },
  { name: 'attribution', type: 'string', arg: 'TEXT', help: 'data set attribution to keep in the model (the Azure trace\'s is automatic)' },
  { name: 'help', type: 'boolean', short: 'h', help: 'show help' }
]

const SAMPLE_FLAGS: FlagDoc[] = [
  { name: 'count', type: 'string', short: 'n', arg: 'N', help: 'number of requests to sample; required' },
  { name: 'seed', type: 'string', arg: 'S', help: 'PRNG seed: same seed, same requests (default random, reported on stderr)' },
  { name: 'out', type: 'string', arg: 'FILE', help: 'write the requests (JSON Lines) to FILE instead of stdout' },
  { name: 'rate-scale', type: 'string', arg: 'X', help: 'multiply the arrival rate (3 = three times the traffic)' },
  { name: 'input-scale', type: 'string', arg: 'X', help: 'multiply input lengths (2 = prompts twice as long)' },
  { name: 'output-scale', type: 'string', arg: 'X', help: 'multiply output lengths' },
  { name: 'help', type: 'boolean', short: 'h', help: 'show help' }
]

export const WORKLOAD_HELP = `loadmesh workload: workload models fitted to request logs

Usage:
  loadmesh workload fit LOG --out model.json [flags]
  loadmesh workload sample model.json -n N [--seed S] [--out FILE.jsonl] [--rate-scale X] [--input-scale X] [--output-scale X]

fit reads a request log (the Azure LLM trace CSV, OpenAI request logs, or the generic CSV/JSONL
schema), fits input and output lengths, arrivals, classes and sessions, and writes model.json with
the goodness of fit of every candidate. Progress goes to stderr, the summary to stdout.

sample draws requests from a model as JSON Lines in the generic log schema (so a sample can be fitted
again). Format and fitting: docs/workload.md.

fit flags:
${formatFlags(FIT_FLAGS)}

sample flags:
${formatFlags(SAMPLE_FLAGS)}`

function parse (argv: string[], flags: FlagDoc[]): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: toParseArgsOptions(flags), allowPositionals: true, strict: true })
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals }
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^Unknown option/, 'unknown flag'), 'see loadmesh workload --help')
  }
}

function positiveNumber (flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) throw new UsageError(`--${flag}: expected a positive number, got "${text}"`)
  return v
}

function positiveInt (flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > max) throw new UsageError(`--${flag}: expected an integer in 1..${max}, got "${text}"`)
  return Number(text)
}

export async function workloadCommand (argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.stdout.write(WORKLOAD_HELP + '\n')
    return sub === undefined ? EXIT.USAGE : EXIT.OK
  }
  if (sub === 'fit') return fitCommand(rest, io)
  if (sub === 'sample') return sampleCommand(rest, io)
  throw new UsageError(`unknown subcommand "${sub}"`, 'use loadmesh workload fit or loadmesh workload sample')
}

async function fitCommand (argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, FIT_FLAGS)
  if (v.help === true) { io.stdout.write(WORKLOAD_HELP + '\n'); return EXIT.OK }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing the log to fit' : `expected one log, got ${positionals.length}: ${positionals.join(' ')}`, 'loadmesh workload fit LOG --out model.json')
  const out = v.out as string | undefined
  if (out === undefined) throw new UsageError('--out FILE is required', 'e.g. loadmesh workload fit requests.csv --out model.json')
  const format = v.format as WorkloadLog['format'] | undefined
  if (format !== undefined && !['azure', 'openai', 'generic-csv', 'generic-jsonl'].includes(format)) {
    throw new UsageError(`--format: expected azure, openai, generic-csv or generic-jsonl, got "${format}"`)
  }
  const classBy = typeof v['class-by'] === 'string' ? v['class-by'].split(',').map((s) => s.trim()).filter((s) => s !== '') : undefined
  const minClassRecords = positiveInt('min-class-records', v['min-class-records'] as string | undefined, 1e9)
  const maxMixtureComponents = positiveInt('max-components', v['max-components'] as string | undefined, 12)
  const started = Date.now()
  io.stderr.write(`reading ${positionals[0]}\n`)
  const log = await readWorkloadLog(positionals[0], format === undefined ? {} : { format })
  io.stderr.write(`  ${log.records.length} records (${log.format}), ${(log.records[log.records.length - 1].atMs / 60_000).toFixed(1)} min\n`)
  const model = fitWorkloadModel(log, {
    classBy,
    minClassRecords,
    maxMixtureComponents,
    attribution: v.attribution as string | undefined,
    onProgress: (m) => io.stderr.write(m + '\n')
  })
  await writeFile(out, JSON.stringify(model, null, 1) + '\n')
  io.stderr.write(`fitted in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  io.stdout.write(summarise(model, out))
  return EXIT.OK
}

function describe (d: LengthDistribution): string {
  switch (d.kind) {
    case 'lognormal': return `lognormal(mu=${d.mu.toFixed(3)}, sigma=${d.sigma.toFixed(3)}, ${d.min}..${d.max})`
    case 'negbin': return `negbin(mean=${d.mean.toFixed(1)}, r=${d.r.toFixed(3)}, ${d.min}..${d.max})`
    case 'lognormal-mixture': return `lognormal-mixture(${d.components.length})`
    case 'negbin-mixture': return `negbin-mixture(${d.components.length})`
    case 'empirical': return `empirical(${d.values.length} values)`
  }
}

function candidatesLine<D> (fit: FitResult<D>, name: (d: D) => string): string {
  return fit.candidates.map((c, i) => `${i === fit.chosenIndex ? '*' : ''}${name(c.distribution)} ${(c.cvKs ?? c.ks).toFixed(4)}`).join(', ')
}

function lengthLines (label: string, fit: LengthFit): string {
  const c = fit.candidates[fit.chosenIndex]
  const mean = createLengthModel(fit.chosen).mean()
  const ks = c === undefined ? '' : `KS ${c.ks.toFixed(4)}${c.cvKs === null ? '' : `, cross-validated ${c.cvKs.toFixed(4)}`}`
  return `${label.padEnd(15)}${describe(fit.chosen)}: mean ${mean.toFixed(1)}, ${ks}\n` +
    `${''.padEnd(15)}candidates (score): ${candidatesLine(fit, (d) => describe(d).replace(/\(mu=.*|\(mean=.*/, ''))}\n`
}

function summarise (model: WorkloadModel, out: string): string {
  const a = model.arrivals
  const proc = a.process.chosen
  const procText = proc.kind === 'poisson' ? 'poisson' : proc.kind === 'gamma' ? `gamma(shape=${proc.shape.toFixed(3)})` : `mmpp2(rates=${proc.rates.map((r) => r.toFixed(3)).join('/')}, switch=${proc.switchRates.map((r) => r.toPrecision(3)).join('/')})`
  const chosenGap = a.process.candidates[a.process.chosenIndex]
  const lines = [
    `${out}: ${model.source.records} records over ${(model.source.durationMs / 60_000).toFixed(1)} min from ${model.source.file} (${model.source.format})`,
    lengthLines(model.sessions === null ? 'input tokens' : 'input (turn 1)', model.input).trimEnd(),
    lengthLines('output tokens', model.output).trimEnd(),
    `${'arrivals'.padEnd(15)}${(a.meanRatePerSec * 60).toFixed(1)}/min on average (${a.ratePerMinute.length}-minute profile, ` +
      `${Math.min(...a.ratePerMinute).toFixed(0)}..${Math.max(...a.ratePerMinute).toFixed(0)}/min), ${a.unit === 'session' ? 'session starts' : 'requests'}`,
    `${''.padEnd(15)}gaps: ${procText}${chosenGap === undefined ? '' : `, KS ${chosenGap.ks.toFixed(4)}`}; CV ${a.gapCv.toFixed(3)} raw, ${a.rescaledGapCv.toFixed(3)} after the profile`,
    `${''.padEnd(15)}candidates (KS): ${candidatesLine(a.process, (g) => g.kind)}`,
    `${'classes'.padEnd(15)}${model.classes.length}: ` + model.classes.slice(0, 8).map((c) => `${c.key} ${(c.weight * 100).toFixed(1)}%${c.input !== null ? ' (own fits)' : ''}`).join(', ') +
      (model.classes.length > 8 ? `, ... (${model.classes.length - 8} more)` : '')
  ]
  if (model.sessions !== null) {
    const s = model.sessions
    lines.push(`${'sessions'.padEnd(15)}${s.count}; turns ${describe(s.turns.chosen)} mean ${createLengthModel(s.turns.chosen).mean().toFixed(2)}; ` +
      `think time median ${createLengthModel(s.thinkTimeMs.chosen).quantile(0.5)} ms; context ${s.contextMode}; prefix reuse ${(s.prefixReuse * 100).toFixed(0)}%`)
  }
  if (model.source.attribution !== undefined) lines.push(`${'data'.padEnd(15)}${model.source.attribution}`)
  return lines.join('\n') + '\n'
}

/** Known class labels go to the top level of a generic-schema record; others under `classes`. */
const TOP_LEVEL_CLASSES = new Set(['region', 'client_type', 'intent'])

async function sampleCommand (argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, SAMPLE_FLAGS)
  if (v.help === true) { io.stdout.write(WORKLOAD_HELP + '\n'); return EXIT.OK }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing the model file' : `expected one model file, got ${positionals.length}: ${positionals.join(' ')}`, 'loadmesh workload sample model.json -n 1000')
  const n = positiveInt('count', v.count as string | undefined, 100_000_000)
  if (n === undefined) throw new UsageError('-n N is required', 'e.g. loadmesh workload sample model.json -n 1000')
  const overrides: ModelOverrides = {}
  const rateScale = positiveNumber('rate-scale', v['rate-scale'] as string | undefined)
  const inputScale = positiveNumber('input-scale', v['input-scale'] as string | undefined)
  const outputScale = positiveNumber('output-scale', v['output-scale'] as string | undefined)
  if (rateScale !== undefined) overrides.rateScale = rateScale
  if (inputScale !== undefined) overrides.inputScale = inputScale
  if (outputScale !== undefined) overrides.outputScale = outputScale
  const seed = (v.seed as string | undefined) ?? String(randomInt(1, 2 ** 31))
  if (seed.trim() === '') throw new UsageError('--seed: must not be empty')
  const model = loadWorkloadModel(positionals[0])
  const sampler = createModelSampler(model, createRng(seed), overrides)
  const out = v.out as string | undefined
  const sink: Writable = out === undefined ? io.stdout : createWriteStream(out)
  if (out !== undefined) await once(sink, 'open')
  let atMs = 0
  let inputSum = 0
  let outputSum = 0
  let chunk: string[] = []
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return
    const text = chunk.join('')
    chunk = []
    if (!sink.write(text)) await once(sink, 'drain')
  }
  for (let i = 0; i < n; i++) {
    const r = sampler.next()
    atMs += r.gapMs
    inputSum += r.inputTokens
    outputSum += r.outputTokens
    const row: Record<string, unknown> = { at_ms: Math.round(atMs * 1000) / 1000, endpoint: r.endpoint }
    if (r.stream !== null) row.stream = r.stream
    row.input_tokens = r.inputTokens
    row.output_tokens = r.outputTokens
    if (r.sessionId !== null) row.session_id = r.sessionId
    if (r.turn !== null) row.turn = r.turn
    const other: Record<string, string> = {}
    for (const [k, value] of Object.entries(r.classes)) {
      if (k === 'endpoint') continue
      if (TOP_LEVEL_CLASSES.has(k)) row[k] = value
      else other[k] = value
    }
    if (Object.keys(other).length > 0) row.classes = other
    if (r.weight !== 1) row.weight = r.weight
    chunk.push(JSON.stringify(row) + '\n')
    if (chunk.length >= 1000) await flush()
  }
  await flush()
  if (out !== undefined) {
    sink.end()
    await once(sink, 'finish')
  }
  const summary = `sampled ${n} requests from ${positionals[0]} (seed ${seed}) over ${(atMs / 1000).toFixed(1)} s: ` +
    `${(n / Math.max(atMs, 1e-9) * 1000).toFixed(3)} req/s, mean input ${(inputSum / n).toFixed(1)}, mean output ${(outputSum / n).toFixed(1)} tokens` +
    (out === undefined ? '' : `; written to ${out}`) + '\n'
  // stdout carries the requests when there is no --out; the summary then goes to stderr.
  ;(out === undefined ? io.stderr : io.stdout).write(summary)
  return EXIT.OK
}
