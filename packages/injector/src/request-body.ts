import type { BodyWriter } from './h1-pool.ts'
import type { RequestSpec } from './request-spec.ts'

/**
 * Encodes request bodies. Everything but the prompt and max_tokens is the same for every request
 * of a run, so the common case (no extraBody) splices those two into pre-encoded JSON instead of
 * stringifying a fresh object graph per request. The result is byte-identical to
 * `JSON.stringify` of the documented body object (tested).
 */
export interface BodyEncoder {
  encode(req: RequestSpec): string
  /**
   * The same bytes as `encode(req)` in UTF-8, written by the h1 pool straight into its request
   * buffer (the template parts are copied as pre-encoded bytes, the prompt is written once); null
   * when the body needs `encode` (extraBody).
   */
  writer(req: RequestSpec): BodyWriter | null
}

interface Template {
  head: string
  /** Between the prompt and max_tokens; null for bodies without max_tokens. */
  mid: string | null
  tail: string
  headBytes: Buffer
  midBytes: Buffer | null
  tailBytes: Buffer
}

/**
 * Writes the template's bytes around JSON.stringify(prompt). Measured on Node 24, building a fresh
 * 128-token prompt with the prompt factory and writing its body, as a run does per request: ~0.9 µs
 * per request against ~1.45 µs when the prompt was written raw and the written bytes then scanned
 * for any that need escaping (the code this replaced): V8 flattens and escapes the built string in
 * one native pass. Reused (already flat) prompts: ~0.7 µs against ~0.9 µs.
 */
class TemplateBody implements BodyWriter {
  readonly maxBytes: number
  private readonly t: Template
  private readonly prompt: string
  private readonly maxTokens: number

  constructor(t: Template, prompt: string, maxTokens: number) {
    this.t = t
    this.prompt = prompt
    this.maxTokens = maxTokens
    // JSON.stringify writes at most 6 bytes per UTF-16 unit (\uXXXX); a number at most 24 characters.
    this.maxBytes = t.headBytes.length + 6 * prompt.length + 2 + (t.midBytes === null ? 0 : t.midBytes.length + 24) + t.tailBytes.length
  }

  writeInto(buf: Buffer, at: number): number {
    const t = this.t
    let i = at + t.headBytes.copy(buf, at)
    i += buf.write(JSON.stringify(this.prompt), i, 'utf8')
    if (t.midBytes !== null) {
      i += t.midBytes.copy(buf, i)
      i += buf.write(JSON.stringify(this.maxTokens), i, 'latin1')
    }
    i += t.tailBytes.copy(buf, i)
    return i - at
  }
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
      const parts: [string, string | null, string] = req.endpoint === '/v1/chat/completions'
        ? [`{"model":${m},"messages":[{"role":"user","content":`, '}],"max_tokens":', tail]
        : req.endpoint === '/v1/completions'
          ? [`{"model":${m},"prompt":`, ',"max_tokens":', tail]
          : [`{"model":${m},"input":`, null, '}']
      const [head, mid, end] = parts
      t = {
        head, mid, tail: end,
        headBytes: Buffer.from(head, 'utf8'),
        midBytes: mid === null ? null : Buffer.from(mid, 'utf8'),
        tailBytes: Buffer.from(end, 'utf8')
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
    },
    writer(req) {
      if (req.extraBody !== undefined && hasKeys(req.extraBody)) return null
      // Anything but a number would not stringify to a number's few bytes.
      if (typeof req.prompt !== 'string' || typeof req.maxTokens !== 'number') return null
      return new TemplateBody(template(req), req.prompt, req.maxTokens)
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
