import { ApiRequestError } from './api-error.ts'
import type { SimEndpoint } from './engine.ts'

/** The parts of a chat/completions request body the simulator acts on. */
export interface GenerationRequest {
  endpoint: SimEndpoint
  /** Absent: the simulator's first configured model answers (vLLM does the same). */
  model: string | undefined
  stream: boolean
  includeUsage: boolean
  /** max_completion_tokens, else max_tokens; undefined when neither is given. */
  maxTokens: number | undefined
  ignoreEos: boolean
  /**
   * countTokens over the prompt text. Chat: the sum over message contents (string contents and text
   * parts); no chat-template overhead (role markers, BOS) is added, so it is a few tokens per
   * message below what a real server reports.
   */
  promptTokens: number
  /**
   * The prompt as one text, for prefix-cache keys (built only when asked): chat message contents
   * joined by newlines, the completion prompt, or token ids joined by spaces.
   */
  promptText(): string
}

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function bad(param: string | null, message: string, apiCode: string | null): never {
  throw new ApiRequestError(400, message, { param, apiCode })
}

function optBool(body: Obj, key: string): boolean | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'boolean') bad(key, `Invalid type for '${key}': expected a boolean, got ${typeof v}.`, 'invalid_type')
  return v
}

function optPositiveInt(body: Obj, key: string): number | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    bad(key, `Invalid type for '${key}': expected an integer, got ${JSON.stringify(v)}.`, 'invalid_type')
  }
  if (v < 1) bad(key, `Invalid '${key}': expected a value >= 1, got ${v}.`, 'integer_below_min_value')
  return v
}

function chatPromptTokens(body: Obj, countTokens: (text: string) => number): number {
  const messages = body.messages
  if (messages === undefined || messages === null) bad('messages', "Missing required parameter: 'messages'.", 'missing_required_parameter')
  if (!Array.isArray(messages)) bad('messages', "Invalid type for 'messages': expected an array.", 'invalid_type')
  if (messages.length === 0) bad('messages', "Invalid 'messages': empty array. Expected an array with minimum length 1.", 'empty_array')
  let tokens = 0
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i]
    if (!isObj(m)) bad(`messages[${i}]`, `Invalid type for 'messages[${i}]': expected an object.`, 'invalid_type')
    if (typeof m.role !== 'string') bad(`messages[${i}].role`, `Missing required parameter: 'messages[${i}].role'.`, 'missing_required_parameter')
    const c = m.content
    if (typeof c === 'string') {
      tokens += countTokens(c)
    } else if (Array.isArray(c)) {
      for (const part of c) {
        if (isObj(part) && typeof part.text === 'string') tokens += countTokens(part.text)
      }
    } else if (c !== undefined && c !== null) {
      bad(`messages[${i}].content`, `Invalid type for 'messages[${i}].content': expected a string or an array of parts.`, 'invalid_type')
    }
  }
  return tokens
}

const isTokenArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x))

function completionPromptTokens(body: Obj, countTokens: (text: string) => number): number {
  const p = body.prompt
  if (p === undefined || p === null) bad('prompt', "Missing required parameter: 'prompt'.", 'missing_required_parameter')
  if (typeof p === 'string') return countTokens(p)
  if (Array.isArray(p)) {
    if (p.length === 0) bad('prompt', "Invalid 'prompt': empty array.", 'empty_array')
    if (isTokenArray(p)) return p.length
    if (p.length > 1) bad('prompt', "Invalid 'prompt': batched prompts (more than one) are not supported by the simulator.", 'unsupported_value')
    const only: unknown = p[0]
    if (typeof only === 'string') return countTokens(only)
    if (isTokenArray(only)) return only.length
  }
  bad('prompt', "Invalid type for 'prompt': expected a string, an array of token ids, or an array with one of those.", 'invalid_type')
}

function chatText(body: Obj): string {
  let s = ''
  for (const m of body.messages as Obj[]) {
    const c = m.content
    if (typeof c === 'string') s += `${String(m.role)}: ${c}\n`
    else if (Array.isArray(c)) for (const part of c) if (isObj(part) && typeof part.text === 'string') s += `${String(m.role)}: ${part.text}\n`
  }
  return s
}

function completionText(body: Obj): string {
  const p = body.prompt
  const one = (x: unknown): string => (typeof x === 'string' ? x : Array.isArray(x) ? x.join(' ') : '')
  return Array.isArray(p) && p.length === 1 && !Number.isInteger(p[0]) ? one(p[0]) : one(p)
}

/** Parses and validates a request body; throws ApiRequestError (400) with OpenAI's wording and codes. */
export function parseGenerationRequest(
  endpoint: SimEndpoint,
  raw: string,
  countTokens: (text: string) => number
): GenerationRequest {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch (err) {
    bad(null, `We could not parse the JSON body of your request (${endpoint}): ${(err as Error).message}`, null)
  }
  if (!isObj(body)) bad(null, `The body of ${endpoint} must be a JSON object.`, 'invalid_type')
  const obj: Obj = body

  const model = body.model
  if (model !== undefined && model !== null && typeof model !== 'string') {
    bad('model', "Invalid type for 'model': expected a string.", 'invalid_type')
  }
  const stream = optBool(body, 'stream') ?? false
  let includeUsage = false
  const so = body.stream_options
  if (so !== undefined && so !== null) {
    if (!isObj(so)) bad('stream_options', "Invalid type for 'stream_options': expected an object.", 'invalid_type')
    includeUsage = optBool(so, 'include_usage') ?? false
  }
  const n = optPositiveInt(body, 'n')
  if (n !== undefined && n !== 1) bad('n', `Invalid 'n': the simulator generates one choice per request, got ${n}.`, 'unsupported_value')
  const maxTokens = optPositiveInt(body, 'max_completion_tokens') ?? optPositiveInt(body, 'max_tokens')
  const ignoreEos = optBool(body, 'ignore_eos') ?? false
  const promptTokens = endpoint === '/v1/chat/completions'
    ? chatPromptTokens(body, countTokens)
    : completionPromptTokens(body, countTokens)
  return {
    endpoint,
    model: typeof model === 'string' ? model : undefined,
    stream,
    includeUsage: stream && includeUsage,
    maxTokens,
    ignoreEos,
    promptTokens,
    promptText: () => (endpoint === '/v1/chat/completions' ? chatText(obj) : completionText(obj))
  }
}
