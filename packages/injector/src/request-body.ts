import type { RequestSpec } from './request-spec.ts'

/**
 * Encodes request bodies. Everything but the prompt and max_tokens is the same for every request
 * of a run, so the common case (no extraBody) splices those two into pre-encoded JSON instead of
 * stringifying a fresh object graph per request. The result is byte-identical to
 * `JSON.stringify` of the documented body object (tested).
 */
export interface BodyEncoder {
  encode(req: RequestSpec): string
}

interface Template {
  head: string
  /** Between the prompt and max_tokens; null for bodies without max_tokens. */
  mid: string | null
  tail: string
}

export function createBodyEncoder(model: string): BodyEncoder {
  const m = JSON.stringify(model)
  const templates = new Map<string, Template>()
  // A run sends one shape over and over: the last template answers without building a map key.
  let lastEndpoint = ''
  let lastStream = false
  let lastUsage = false
  let last: Template | null = null

  function template(req: RequestSpec): Template {
    const usage = req.stream && req.includeUsage
    if (last !== null && req.endpoint === lastEndpoint && req.stream === lastStream && usage === lastUsage) return last
    const key = `${req.endpoint}${req.stream ? 's' : 'n'}${usage ? 'u' : ''}`
    let t = templates.get(key)
    if (t === undefined) {
      const tail = `,"stream":${req.stream}${usage ? ',"stream_options":{"include_usage":true}' : ''}}`
      if (req.endpoint === '/v1/chat/completions') {
        t = { head: `{"model":${m},"messages":[{"role":"user","content":`, mid: '}],"max_tokens":', tail }
      } else if (req.endpoint === '/v1/completions') {
        t = { head: `{"model":${m},"prompt":`, mid: ',"max_tokens":', tail }
      } else {
        t = { head: `{"model":${m},"input":`, mid: null, tail: '}' }
      }
      templates.set(key, t)
    }
    lastEndpoint = req.endpoint
    lastStream = req.stream
    lastUsage = usage
    last = t
    return t
  }

  return {
    encode(req) {
      if (req.extraBody !== undefined && hasKeys(req.extraBody)) {
        return JSON.stringify({ ...bodyObject(model, req), ...req.extraBody })
      }
      const t = template(req)
      if (t.mid === null) return t.head + JSON.stringify(req.prompt) + t.tail
      return t.head + JSON.stringify(req.prompt) + t.mid + JSON.stringify(req.maxTokens) + t.tail
    }
  }
}

/** The body as an object: the definition the fast path must match. */
export function bodyObject(model: string, req: RequestSpec): Record<string, unknown> {
  if (req.endpoint === '/v1/embeddings' || req.endpoint === '/v1/moderations') return { model, input: req.prompt }
  const body: Record<string, unknown> = req.endpoint === '/v1/chat/completions'
    ? { model, messages: [{ role: 'user', content: req.prompt }], max_tokens: req.maxTokens, stream: req.stream }
    : { model, prompt: req.prompt, max_tokens: req.maxTokens, stream: req.stream }
  if (req.stream && req.includeUsage) body.stream_options = { include_usage: true }
  return body
}

function hasKeys(o: Record<string, unknown>): boolean {
  for (const _ in o) return true
  return false
}
