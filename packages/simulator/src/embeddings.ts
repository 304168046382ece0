import { ApiRequestError } from './api-error.ts'

/** The parts of a /v1/embeddings body the simulator acts on. */
export interface EmbeddingsRequest {
  model: string | undefined
  /** One entry per input: its prompt tokens and the key its vector is derived from. */
  inputs: Array<{ tokens: number; key: string }>
  /** Vector length asked for (OpenAI's `dimensions`), undefined = the model's full length. */
  dimensions: number | undefined
  encoding: 'float' | 'base64'
}

/** OpenAI's limit on inputs per request. */
const MAX_INPUTS = 2048

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isTokenArray = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0)

function bad(param: string | null, message: string, apiCode: string | null): never {
  throw new ApiRequestError(400, message, { param, apiCode })
}

/** Parses and validates an embeddings body: `input` as a string, strings, token ids or lists of token ids. */
export function parseEmbeddingsRequest(raw: string, countTokens: (text: string) => number, maxDimensions: number): EmbeddingsRequest {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch (err) {
    bad(null, `We could not parse the JSON body of your request (/v1/embeddings): ${(err as Error).message}`, null)
  }
  if (!isObj(body)) bad(null, 'The body of /v1/embeddings must be a JSON object.', 'invalid_type')
  const model = body.model
  if (model !== undefined && model !== null && typeof model !== 'string') bad('model', "Invalid type for 'model': expected a string.", 'invalid_type')
  const input = body.input
  if (input === undefined || input === null) bad('input', "Missing required parameter: 'input'.", 'missing_required_parameter')
  const inputs: Array<{ tokens: number; key: string }> = []
  const text = (s: string, where: string): void => {
    if (s.length === 0) bad(where, `Invalid '${where}': empty string. Expected a non-empty string.`, 'empty_string')
    inputs.push({ tokens: countTokens(s), key: `s:${s}` })
  }
  const ids = (a: number[]): void => { inputs.push({ tokens: a.length, key: `t:${a.join(',')}` }) }
  if (typeof input === 'string') text(input, 'input')
  else if (Array.isArray(input)) {
    if (input.length === 0) bad('input', "Invalid 'input': empty array. Expected an array with minimum length 1.", 'empty_array')
    if (input.length > MAX_INPUTS) bad('input', `Invalid 'input': array too long. Expected an array with maximum length ${MAX_INPUTS}, got ${input.length}.`, 'array_above_max_length')
    if (isTokenArray(input)) ids(input)
    else {
      input.forEach((item: unknown, i) => {
        if (typeof item === 'string') text(item, `input[${i}]`)
        else if (isTokenArray(item)) ids(item)
        else bad(`input[${i}]`, `Invalid type for 'input[${i}]': expected a string or an array of token ids.`, 'invalid_type')
      })
    }
  } else {
    bad('input', "Invalid type for 'input': expected a string, an array of strings, or an array of token ids.", 'invalid_type')
  }
  let dimensions: number | undefined
  const d = body.dimensions
  if (d !== undefined && d !== null) {
    if (typeof d !== 'number' || !Number.isInteger(d)) bad('dimensions', `Invalid type for 'dimensions': expected an integer, got ${JSON.stringify(d)}.`, 'invalid_type')
    if (d < 1 || d > maxDimensions) bad('dimensions', `Invalid 'dimensions': expected a value from 1 to ${maxDimensions}, got ${d}.`, 'invalid_value')
    dimensions = d
  }
  const enc = body.encoding_format ?? 'float'
  if (enc !== 'float' && enc !== 'base64') bad('encoding_format', `Invalid 'encoding_format': expected 'float' or 'base64', got ${JSON.stringify(enc)}.`, 'invalid_value')
  return { model: typeof model === 'string' ? model : undefined, inputs, dimensions, encoding: enc }
}

/** A 32-bit FNV-1a of the key, then a splitmix-style stream: the same input gives the same vector everywhere. */
function seedOf(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/**
 * A deterministic unit vector for an input. The full-length vector is drawn from the input's hash;
 * a shorter `dimensions` keeps its first entries and renormalises them, as OpenAI's shortened
 * embeddings do, so a short vector is a prefix (in direction) of the long one.
 */
export function embeddingVector(key: string, dimensions: number): Float32Array {
  let state = seedOf(key)
  const v = new Float32Array(dimensions)
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    // mulberry32: cheap, and good enough for directions nobody will test for randomness.
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    const x = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
    v[i] = x
    norm += x * x
  }
  const k = norm > 0 ? 1 / Math.sqrt(norm) : 0
  for (let i = 0; i < dimensions; i++) v[i] *= k
  return v
}

/** The response body: one vector per input, floats or base64 of little-endian float32s. */
export function embeddingsResponse(req: EmbeddingsRequest, model: string, fullDimensions: number): string {
  const dims = req.dimensions ?? fullDimensions
  let data = ''
  let prompt = 0
  req.inputs.forEach((input, index) => {
    prompt += input.tokens
    const v = embeddingVector(input.key, dims)
    let embedding: string
    if (req.encoding === 'base64') {
      embedding = `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"`
    } else {
      // Float32 values printed at float32 precision: what a real server's float32 tensor gives.
      embedding = '['
      for (let i = 0; i < v.length; i++) embedding += (i === 0 ? '' : ',') + String(Number(v[i].toPrecision(8)))
      embedding += ']'
    }
    data += `${index === 0 ? '' : ','}{"object":"embedding","index":${index},"embedding":${embedding}}`
  })
  return `{"object":"list","data":[${data}],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${prompt},"total_tokens":${prompt}}}`
}
