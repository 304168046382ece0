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
  mid: string
  tail: string
}

export function createBodyEncoder(model: string): BodyEncoder {
  const m = JSON.stringify(model)
  const templates = new Map<string, Template>()

  function template(req: RequestSpec): Template {
    const chat = req.endpoint === '/v1/chat/completions'
    const usage = req.stream && req.includeUsage
    const key = `${chat ? 'c' : 'p'}${req.stream ? 's' : 'n'}${usage ? 'u' : ''}`
    let t = templates.get(key)
    if (t === undefined) {
      t = {
        head: chat ? `{"model":${m},"messages":[{"role":"user","content":` : `{"model":${m},"prompt":`,
        mid: chat ? '}],"max_tokens":' : ',"max_tokens":',
        tail: `,"stream":${req.stream}${usage ? ',"stream_options":{"include_usage":true}' : ''}}`
      }
      templates.set(key, t)
    }
    return t
  }

  return {
    encode(req) {
      if (req.extraBody !== undefined && hasKeys(req.extraBody)) {
        return JSON.stringify({ ...bodyObject(model, req), ...req.extraBody })
      }
      const t = template(req)
      return t.head + JSON.stringify(req.prompt) + t.mid + JSON.stringify(req.maxTokens) + t.tail
    }
  }
}

/** The body as an object: the definition the fast path must match. */
export function bodyObject(model: string, req: RequestSpec): Record<string, unknown> {
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
