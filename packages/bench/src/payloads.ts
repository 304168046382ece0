/**
 * The bytes every client and target agree on. The non-streamed answer is what nginx returns; the
 * streamed one is what the SSE server returns. Both look like a vLLM/OpenAI response so the loadmesh
 * injector takes its normal path through them (usage present, so no client-side token counting).
 */

export const MODEL = 'bench'
export const CHAT_PATH = '/v1/chat/completions'

/** Prompt and output size of the benchmark request (the prompt comes from the workload's factory). */
export const PROMPT_TOKENS = 128
export const MAX_TOKENS = 16

export const CHAT_COMPLETION_JSON = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1700000000,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the benchmark target.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: 7, total_tokens: PROMPT_TOKENS + 7 }
})

export interface SseResponseOptions {
  /** Content chunks per response (one token each). */
  contentChunks: number
  /** The body is sent in this many writes (HTTP chunks), each a run of whole events. */
  writes: number
}

export interface SseResponse {
  /** The writes of one whole HTTP response, head included in the first, terminator in the last. */
  writes: Buffer[]
  /** SSE events per response: role chunk + content chunks + usage chunk + [DONE]. */
  eventsPerResponse: number
  contentChunks: number
  bytes: number
}

function chunkEvent(delta: Record<string, string>, finish: string | null): string {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: MODEL,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }]
  })}\n\n`
}

/**
 * One pre-built streamed chat response, HTTP/1.1 chunked: a role chunk, `contentChunks` content
 * chunks (the last with finish_reason "stop"), a usage chunk and `data: [DONE]`. Events are never
 * split across writes, so a reader counting blank lines needs no knowledge of the chunk framing.
 */
export function buildSseResponse(o: SseResponseOptions): SseResponse {
  if (!Number.isInteger(o.contentChunks) || o.contentChunks < 1) throw new RangeError(`buildSseResponse: contentChunks ${o.contentChunks} must be an integer >= 1`)
  if (!Number.isInteger(o.writes) || o.writes < 1) throw new RangeError(`buildSseResponse: writes ${o.writes} must be an integer >= 1`)
  const events: string[] = [chunkEvent({ role: 'assistant', content: '' }, null)]
  for (let i = 0; i < o.contentChunks; i++) {
    events.push(chunkEvent({ content: ` tok${i % 100}` }, i === o.contentChunks - 1 ? 'stop' : null))
  }
  events.push(`data: ${JSON.stringify({
    id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: MODEL, choices: [],
    usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: o.contentChunks, total_tokens: PROMPT_TOKENS + o.contentChunks }
  })}\n\n`)
  events.push('data: [DONE]\n\n')

  const groups = Math.min(o.writes, events.length)
  const per = Math.ceil(events.length / groups)
  const head = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n' +
    'connection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n'
  const writes: Buffer[] = []
  for (let g = 0; g * per < events.length; g++) {
    const data = Buffer.from(events.slice(g * per, (g + 1) * per).join(''), 'utf8')
    const last = (g + 1) * per >= events.length
    writes.push(Buffer.concat([
      Buffer.from(`${g === 0 ? head : ''}${data.length.toString(16)}\r\n`, 'latin1'),
      data,
      Buffer.from(last ? '\r\n0\r\n\r\n' : '\r\n', 'latin1')
    ]))
  }
  return {
    writes,
    eventsPerResponse: events.length,
    contentChunks: o.contentChunks,
    bytes: writes.reduce((n, b) => n + b.length, 0)
  }
}

/** The head and body of the non-streamed answer, for the Node fallback target. */
export function buildJsonResponse(): Buffer {
  const body = Buffer.from(CHAT_COMPLETION_JSON, 'utf8')
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n`, 'latin1'),
    body
  ])
}
