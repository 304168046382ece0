import { randomInt } from 'node:crypto'
import { parseDuration } from '@loadmesh/clock'
import { parseLengthSpec, parseArrivalKind } from '@loadmesh/workload'
import { parseSlo } from '@loadmesh/metrics'
import { validateRunConfig } from '@loadmesh/agent'
import type { RunConfig, Endpoint } from '@loadmesh/agent'
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

const ENDPOINTS: Record<string, Endpoint> = {
  chat: '/v1/chat/completions',
  '/v1/chat/completions': '/v1/chat/completions',
  completions: '/v1/completions',
  '/v1/completions': '/v1/completions'
}

/**
 * Turns flag values (plan file merged under command-line flags) into a RunConfig. Each value is
 * parsed by the package that owns its syntax, and errors keep the flag's name.
 */
export function runConfigFromFlags (v: FlagValues, target: string, model: string): RunConfig {
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
  const endpoint = ENDPOINTS[str('endpoint')]
  if (endpoint === undefined) throw new UsageError(`--endpoint: "${str('endpoint')}" is not supported (expected chat or completions)`)
  const maxInFlight = num('max-in-flight', str('max-in-flight'))
  const connections = v.connections !== undefined ? num('connections', v.connections as string) : Math.min(1024, maxInFlight)
  const seed = (v.seed as string | undefined) ?? String(randomInt(1, 2 ** 31))
  return validateRunConfig({
    target,
    model,
    endpoint,
    duration_ms: parseDuration(str('duration'), '--duration'),
    mode: closed ? 'closed' : 'open',
    rate: closed ? null : num('rate', str('rate')),
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
    max_error_rate: num('max-error-rate', str('max-error-rate')),
    fail_on_slo: v['fail-on-slo'] === true
  })
}
