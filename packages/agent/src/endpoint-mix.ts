import { ENDPOINTS } from '@loadmesh/injector'
import type { Endpoint } from '@loadmesh/injector'
import { RunConfigError } from './run-config.ts'
import type { EndpointWeight } from './run-config.ts'

/** Short names for the endpoints (the paths themselves are accepted too). */
export const ENDPOINT_NAMES: Readonly<Record<string, Endpoint>> = Object.freeze({
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
  moderations: '/v1/moderations'
})

/** `chat`, `completions`, `embeddings`, `moderations` or the path; undefined for anything else. */
export function endpointByName(name: string): Endpoint | undefined {
  const n = name.trim()
  if (Object.hasOwn(ENDPOINT_NAMES, n)) return ENDPOINT_NAMES[n]
  return (ENDPOINTS as readonly string[]).includes(n) ? (n as Endpoint) : undefined
}

/**
 * `chat=0.7,completions=0.2,embeddings=0.05,moderations=0.05`: weights per endpoint, normalised to
 * sum to 1 (so `chat=7,embeddings=3` works too). An endpoint may appear once; weight 0 is allowed.
 */
export function parseEndpointMix(text: string, where = '--endpoint-mix'): EndpointWeight[] {
  const fail = (problem: string): never => { throw new RunConfigError(`${where}: "${text}": ${problem}`) }
  const out: EndpointWeight[] = []
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (parts.length === 0) fail('empty mix (e.g. chat=0.7,completions=0.2,embeddings=0.05,moderations=0.05)')
  for (const part of parts) {
    const eq = part.lastIndexOf('=')
    if (eq < 0) fail(`expected endpoint=weight, got "${part}"`)
    const endpoint = endpointByName(part.slice(0, eq))
    if (endpoint === undefined) fail(`"${part.slice(0, eq).trim()}" is not an endpoint (chat, completions, embeddings, moderations)`)
    const raw = part.slice(eq + 1).trim()
    const weight = Number(raw)
    if (raw === '' || !(weight >= 0) || !Number.isFinite(weight)) fail(`the weight of ${part.slice(0, eq).trim()} must be a non-negative number, got "${raw}"`)
    if (out.some((e) => e.endpoint === endpoint)) fail(`${endpoint} is given twice`)
    out.push({ endpoint: endpoint as Endpoint, weight })
  }
  const total = out.reduce((s, e) => s + e.weight, 0)
  if (!(total > 0)) fail('the weights must not all be 0')
  return out.map((e) => ({ endpoint: e.endpoint, weight: e.weight / total }))
}
