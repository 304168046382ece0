import { ApiRequestError } from './api-error.ts'

/** The omni-moderation categories, in OpenAI's order. */
export const MODERATION_CATEGORIES = [
  'harassment', 'harassment/threatening', 'hate', 'hate/threatening', 'illicit', 'illicit/violent',
  'self-harm', 'self-harm/intent', 'self-harm/instructions', 'sexual', 'sexual/minors', 'violence', 'violence/graphic'
] as const

/** The model moderations answer with when the request names none. */
export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest'

export interface ModerationsRequest {
  model: string | undefined
  /** One entry per input: its prompt tokens, the key its scores come from, and its input types. */
  inputs: Array<{ tokens: number; key: string; types: Array<'text' | 'image'> }>
}

/** Per category, P(score > 0.5) = 0.4%: with 13 categories about 5% of inputs come out flagged. */
const SCORE_EXPONENT = Math.log(0.5) / Math.log(1 - 0.004)
/** Prompt tokens an image input counts for (a low-detail image tile). */
const IMAGE_TOKENS = 85

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function bad(param: string | null, message: string, apiCode: string | null): never {
  throw new ApiRequestError(400, message, { param, apiCode })
}

/** `input` as a string, a list of strings, or a list of multimodal parts (text and image_url). */
export function parseModerationsRequest(raw: string, countTokens: (text: string) => number): ModerationsRequest {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch (err) {
    bad(null, `We could not parse the JSON body of your request (/v1/moderations): ${(err as Error).message}`, null)
  }
  if (!isObj(body)) bad(null, 'The body of /v1/moderations must be a JSON object.', 'invalid_type')
  const model = body.model
  if (model !== undefined && model !== null && typeof model !== 'string') bad('model', "Invalid type for 'model': expected a string.", 'invalid_type')
  const input = body.input
  if (input === undefined || input === null) bad('input', "Missing required parameter: 'input'.", 'missing_required_parameter')
  const inputs: ModerationsRequest['inputs'] = []
  if (typeof input === 'string') {
    inputs.push({ tokens: countTokens(input), key: input, types: ['text'] })
  } else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string')) {
    for (const s of input as string[]) inputs.push({ tokens: countTokens(s), key: s, types: ['text'] })
  } else if (Array.isArray(input) && input.length > 0 && input.every(isObj)) {
    // Multimodal parts make up ONE input (OpenAI answers with a single result for them).
    let tokens = 0
    let key = ''
    const types = new Set<'text' | 'image'>()
    ;(input as Obj[]).forEach((part, i) => {
      if (part.type === 'text' && typeof part.text === 'string') {
        tokens += countTokens(part.text)
        key += `t:${part.text}\n`
        types.add('text')
      } else if (part.type === 'image_url' && isObj(part.image_url) && typeof part.image_url.url === 'string') {
        tokens += IMAGE_TOKENS
        key += `i:${part.image_url.url}\n`
        types.add('image')
      } else {
        bad(`input[${i}]`, `Invalid 'input[${i}]': expected { type: 'text', text } or { type: 'image_url', image_url: { url } }.`, 'invalid_value')
      }
    })
    inputs.push({ tokens, key, types: [...types] })
  } else {
    bad('input', "Invalid 'input': expected a string, a non-empty array of strings, or a non-empty array of text and image_url parts.", 'invalid_type')
  }
  return { model: typeof model === 'string' ? model : undefined, inputs }
}

/** Uniform [0, 1) numbers from the input's FNV-1a hash through mulberry32. */
function stream(key: string): () => number {
  let state = 0x811c9dc5
  for (let i = 0; i < key.length; i++) state = Math.imul(state ^ key.charCodeAt(i), 0x01000193)
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * OpenAI's moderation response. Scores are deterministic per input (its hash), mostly tiny, and a
 * category is flagged above 0.5, so the same text always gets the same verdict (about 5% flagged).
 */
export function moderationsResponse(req: ModerationsRequest, id: string, model: string): string {
  const results = req.inputs.map((input) => {
    const next = stream(input.key)
    const categories: Record<string, boolean> = {}
    const scores: Record<string, number> = {}
    const applied: Record<string, string[]> = {}
    let flagged = false
    for (const c of MODERATION_CATEGORIES) {
      const score = next() ** SCORE_EXPONENT
      const hit = score > 0.5
      flagged ||= hit
      categories[c] = hit
      scores[c] = Number(score.toPrecision(6))
      // Image inputs count only for the categories OpenAI scores images on.
      applied[c] = input.types.filter((t) => t === 'text' || c === 'self-harm' || c === 'self-harm/intent' || c === 'self-harm/instructions' || c === 'sexual' || c === 'violence' || c === 'violence/graphic')
    }
    return { flagged, categories, category_scores: scores, category_applied_input_types: applied }
  })
  return JSON.stringify({ id, model, results })
}
