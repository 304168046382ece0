import { randomInt } from 'node:crypto'
import { resolve } from 'node:path'
import { parseDuration } from '@loadmesh/clock'
import { parseLengthSpec, parseArrivalKind, parseAdversarialSpec } from '@loadmesh/workload'
import { parseSlo } from '@loadmesh/metrics'
import { validateRunConfig, endpointByName, parseEndpointMix, parseLongTail, loadWorkloadSync, nominalWorkload } from '@loadmesh/agent'
import type { LoadedWorkload, RunConfig, WorkloadSource } from '@loadmesh/agent'
import { UsageError } from './exit-codes.ts'
import type { FlagValues } from './plan-file.ts'

export const DEFAULTS = {
  duration: '30s',
  rate: '10',
  arrival: 'poisson',
  burstiness: '1',
  'input-tokens': 'lognormal:mean=512,stdev=256,min=16,max=4096',
  'output-tokens': 'negbin:mean=128,r=2,min=1,max=1024',
  'max-in-flight': '4096',
  timeout: '120s',
  'max-error-rate': '0',
  endpoint: 'chat'
} as const

/** Flags that describe synthetic requests: a replay or a model replaces them. */
const SYNTHETIC_FLAGS = ['rate', 'concurrency', 'arrival', 'burstiness', 'input-tokens', 'output-tokens', 'endpoint-mix'] as const

/**
 * Turns flag values (plan file merged under command-line flags) into a RunConfig. Each value is
 * parsed by the package that owns its syntax, and errors keep the flag's name.
 */
export function runConfigFromFlags (v: FlagValues, target: string, model: string): RunConfig {
  return runSetupFromFlags(v, target, model).config
}

/** A RunConfig and the log or model it names (null for a synthetic run), read once. */
export interface RunSetup {
  config: RunConfig
  workload: LoadedWorkload
}

/**
 * runConfigFromFlags, also handing back the workload it had to read to size the run, so a local
 * run does not read and check a large log a second time.
 */
export function runSetupFromFlags (v: FlagValues, target: string, model: string): RunSetup {
  const str = (k: keyof typeof DEFAULTS): string => (v[k] as string | undefined) ?? DEFAULTS[k]
  const num = (k: string, text: string): number => {
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${k}: "${text}" is not a number`)
    return n
  }
  if (v.rate !== undefined && v.concurrency !== undefined) {
    throw new UsageError('--rate and --concurrency are exclusive', 'use --rate for an open-loop test (arrivals per second) or --concurrency for a closed loop')
  }
  const closed = v.concurrency !== undefined
  const endpoint = endpointByName(str('endpoint'))
  if (endpoint !== '/v1/chat/completions' && endpoint !== '/v1/completions') {
    throw new UsageError(`--endpoint: "${str('endpoint')}" is not supported (expected chat or completions)`, 'embeddings and moderations go in --endpoint-mix, e.g. --endpoint-mix embeddings=1')
  }
  const workload = workloadFromFlags(v, num)
  let durationMs = parseDuration(str('duration'), '--duration')
  let rate: number | null = closed ? null : num('rate', str('rate'))
  let loaded: LoadedWorkload = null
  if (workload !== null) {
    // The log or model is read and checked now: a run never starts on a half-read log, and the
    // plan gets the replay's length and the workload's mean rate.
    loaded = loadWorkloadSync({ workload } as RunConfig)
    let nominal = nominalWorkload(workload, loaded, v.duration !== undefined ? durationMs : null)
    if (nominal.durationMs === null) nominal = nominalWorkload(workload, loaded, durationMs)
    durationMs = nominal.durationMs as number
    rate = nominal.ratePerS > 0 ? nominal.ratePerS : Number.MIN_VALUE
  }
  const maxInFlight = num('max-in-flight', str('max-in-flight'))
  const connections = v.connections !== undefined ? num('connections', v.connections as string) : Math.min(1024, maxInFlight)
  const seed = (v.seed as string | undefined) ?? String(randomInt(1, 2 ** 31))
  const config = validateRunConfig({
    target,
    model,
    endpoint,
    duration_ms: durationMs,
    mode: closed ? 'closed' : 'open',
    rate,
    concurrency: closed ? num('concurrency', v.concurrency as string) : null,
    arrival: parseArrivalKind(str('arrival')),
    burstiness: num('burstiness', str('burstiness')),
    input_tokens: parseLengthSpec(str('input-tokens'), '--input-tokens'),
    output_tokens: parseLengthSpec(str('output-tokens'), '--output-tokens'),
    stream: v.stream !== false,
    ignore_eos: v['ignore-eos'] === true,
    seed,
    slo: v.slo !== undefined ? parseSlo(v.slo as string, '--slo') : {},
    max_in_flight: maxInFlight,
    timeout_ms: parseDuration(str('timeout'), '--timeout'),
    connections,
    ...(v['http-client'] !== undefined ? { http_client: v['http-client'] as NonNullable<RunConfig['http_client']> } : {}),
    max_error_rate: num('max-error-rate', str('max-error-rate')),
    fail_on_slo: v['fail-on-slo'] === true,
    endpoint_mix: v['endpoint-mix'] !== undefined ? parseEndpointMix(v['endpoint-mix'] as string) : null,
    stream_ratio: v['stream-ratio'] !== undefined ? ratio('stream-ratio', v['stream-ratio'] as string) : null,
    workload,
    long_tail: v['long-tail'] !== undefined ? parseLongTail(v['long-tail'] as string) : null,
    adversarial: v.adversarial !== undefined ? parseAdversarialSpec(v.adversarial as string) : null
  })
  return { config, workload: loaded }
}

function ratio (k: string, text: string): number {
  const n = Number(text)
  if (text.trim() === '' || !(n >= 0 && n <= 1)) throw new UsageError(`--${k}: "${text}" must be a number within 0..1`)
  return n
}

/** --replay / --workload and their options; null for a synthetic run. Paths become absolute (agents of a mesh read them too). */
function workloadFromFlags (v: FlagValues, num: (k: string, text: string) => number): WorkloadSource | null {
  const replay = v.replay as string | undefined
  const model = v.workload as string | undefined
  const only = (flags: string[], owner: string): void => {
    const bad = flags.find((f) => v[f] !== undefined)
    if (bad !== undefined) throw new UsageError(`--${bad} only applies with ${owner}`)
  }
  const positive = (k: string): number => {
    const text = v[k] as string | undefined
    if (text === undefined) return 1
    const n = num(k, text)
    if (!(n > 0)) throw new UsageError(`--${k}: "${text}" must be a positive number`)
    return n
  }
  if (replay === undefined && model === undefined) {
    only(['speedup', 'loop', 'window', 'rate-scale'], '--replay or --workload')
    only(['input-scale', 'output-scale'], '--workload')
    return null
  }
  if (replay !== undefined && model !== undefined) throw new UsageError('--replay and --workload are exclusive', 'replay a log as it is, or sample from a model fitted to it')
  const owner = replay !== undefined ? '--replay' : '--workload'
  const synthetic = SYNTHETIC_FLAGS.find((f) => v[f] !== undefined)
  if (synthetic !== undefined) {
    throw new UsageError(`--${synthetic} does not apply with ${owner}: the ${replay !== undefined ? 'log' : 'model'} sets the arrivals, endpoints and lengths`, 'use --rate-scale (and --input-scale / --output-scale with a model) to change them')
  }
  if (v['long-tail'] !== undefined && replay !== undefined) throw new UsageError('--long-tail does not apply with --replay: a replay sends the log as it is', 'oversample with --workload model.json or a synthetic run')
  if (replay !== undefined) {
    only(['input-scale', 'output-scale'], '--workload')
    const { from, to } = parseWindow(v.window as string | undefined)
    return {
      kind: 'replay',
      log: resolve(replay),
      format: null,
      speedup: positive('speedup'),
      loop: v.loop === true,
      rate_scale: positive('rate-scale'),
      from_ms: from,
      to_ms: to
    }
  }
  only(['speedup', 'loop', 'window'], '--replay')
  return { kind: 'model', model: resolve(model as string), rate_scale: positive('rate-scale'), input_scale: positive('input-scale'), output_scale: positive('output-scale') }
}

/** `FROM..TO` in log time since its first record (durations, either side may be empty). */
function parseWindow (text: string | undefined): { from: number; to: number | null } {
  if (text === undefined) return { from: 0, to: null }
  const m = /^\s*([^.]*?)\s*\.\.\s*([^.]*?)\s*$/.exec(text.replace(/(\d)\.(\d)/g, '$1\u0000$2'))
  if (m === null) throw new UsageError(`--window: "${text}" is not FROM..TO (e.g. 10m..20m, ..5m, 1h..)`)
  const side = (s: string, what: string): number | null => (s === '' ? null : parseDuration(s.replace(/\u0000/g, '.'), `--window ${what}`))
  const from = side(m[1], 'start') ?? 0
  const to = side(m[2], 'end')
  if (to !== null && !(to > from)) throw new UsageError(`--window: "${text}": the end must be after the start`)
  return { from, to }
}
