import type { FinishReason, SimEndpoint, SimError } from './engine.ts'
import type { TextSource } from './output-text.ts'

export interface ResponseMeta {
  endpoint: SimEndpoint
  id: string
  /** Unix seconds. */
  created: number
  model: string
  promptTokens: number
  text: TextSource
  /** Where this response reads the text ring. */
  origin: number
}

export interface StreamFramer {
  /**
   * SSE frames for tokens [from, from + n): one chunk per `tokensPerChunk` tokens. For chat the very
   * first call is preceded by the `delta: { role: 'assistant', content: '' }` chunk, as OpenAI and
   * vLLM send it; it carries no token.
   */
  tokens(from: number, n: number): string
  /**
   * Tokens [from, from + n) in ONE chunk, whatever `tokensPerChunk` says: what a server sends when its
   * client fell behind and the outputs waiting for it were merged (vLLM does the same).
   */
  merged(from: number, n: number): string
  /**
   * Finish chunk, then the usage chunk (`choices: []`) when asked for, then `data: [DONE]`.
   * `cachedTokens`, when known, becomes usage.prompt_tokens_details.cached_tokens.
   */
  finish(reason: FinishReason, completionTokens: number, cachedTokens?: number): string
  /** True when every frame is ASCII, so a frame's byte length is its string length. */
  readonly ascii: boolean
  /** An error after the stream started: vLLM's `data: {"error": ...}` frame, then `data: [DONE]`. */
  error(err: SimError): string
}

const usage = (prompt: number, completion: number, cached: number | undefined): string =>
  `{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion}` +
  (cached === undefined ? '}' : `,"prompt_tokens_details":{"cached_tokens":${cached}}}`)

/**
 * Chunks are assembled from a pre-serialised head and tail per response, so a token costs a few string
 * concatenations, not a JSON.stringify.
 */
export function createStreamFramer(meta: ResponseMeta, includeUsage: boolean, tokensPerChunk: number): StreamFramer {
  const chat = meta.endpoint === '/v1/chat/completions'
  const head = `data: {"id":${JSON.stringify(meta.id)},"object":"${chat ? 'chat.completion.chunk' : 'text_completion'}",` +
    `"created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":[`
  const tail = includeUsage ? '],"usage":null}\n\n' : ']}\n\n'
  const open = chat ? '{"index":0,"delta":{"content":' : '{"index":0,"text":'
  const close = chat ? '},"logprobs":null,"finish_reason":null}' : ',"logprobs":null,"finish_reason":null}'
  const roleChunk = head + '{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}' + tail

  return {
    // The words are ASCII; only the id and the model name (echoed from the request) may not be.
    ascii: /^[\x00-\x7f]*$/.test(head),
    tokens(from, n) {
      let s = chat && from === 0 ? roleChunk : ''
      for (let i = 0; i < n; i += tokensPerChunk) {
        const k = Math.min(tokensPerChunk, n - i)
        s += head + open + meta.text.jsonChunk(meta.origin, from + i, k) + close + tail
      }
      return s
    },
    merged(from, n) {
      return (chat && from === 0 ? roleChunk : '') + head + open + meta.text.jsonChunk(meta.origin, from, n) + close + tail
    },
    finish(reason, completionTokens, cachedTokens) {
      const last = chat
        ? `{"index":0,"delta":{},"logprobs":null,"finish_reason":"${reason}"}`
        : `{"index":0,"text":"","logprobs":null,"finish_reason":"${reason}"}`
      let s = head + last + tail
      if (includeUsage) s += head + '],"usage":' + usage(meta.promptTokens, completionTokens, cachedTokens) + '}\n\n'
      return s + 'data: [DONE]\n\n'
    },
    error(err) {
      const body = JSON.stringify({ error: { message: err.message, type: err.type, param: null, code: err.code ?? null } })
      return `data: ${body}\n\ndata: [DONE]\n\n`
    }
  }
}

/** The whole non-streamed response body. */
export function completeResponse(meta: ResponseMeta, reason: FinishReason, completionTokens: number, cachedTokens?: number): string {
  const content = meta.text.text(meta.origin, completionTokens)
  const choice = meta.endpoint === '/v1/chat/completions'
    ? { index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: reason }
    : { index: 0, text: content, logprobs: null, finish_reason: reason }
  return JSON.stringify({
    id: meta.id,
    object: meta.endpoint === '/v1/chat/completions' ? 'chat.completion' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [choice],
    usage: {
      prompt_tokens: meta.promptTokens,
      completion_tokens: completionTokens,
      total_tokens: meta.promptTokens + completionTokens,
      ...(cachedTokens === undefined ? {} : { prompt_tokens_details: { cached_tokens: cachedTokens } })
    }
  })
}
