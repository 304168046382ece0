import { systemClock } from '@loadmesh/clock'
import { createInjector } from '@loadmesh/injector'
import { countTokens, createPromptFactory, createRng } from '@loadmesh/workload'
import { BenchError } from './bench-error.ts'
import { startFastServer } from './fast-server.ts'
import { CHAT_PATH, MAX_TOKENS, MODEL, PROMPT_TOKENS } from './payloads.ts'

export interface CapturedRequest {
  body: string
  /** The headers the baselines should send too (content-type, accept), lower-case names. */
  headers: Record<string, string>
}

/**
 * The exact request the loadmesh client sends (its first one, from the same seed), captured off
 * the wire, so autocannon, wrk and the raw reader send the same bytes rather than a look-alike.
 */
export async function captureInjectorRequest(seed: string, stream: boolean): Promise<CapturedRequest> {
  let captured: CapturedRequest | null = null
  const server = await startFastServer({
    contentChunks: 1,
    writes: 1,
    onRequest: (head, body) => {
      const headers: Record<string, string> = {}
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':')
        const name = line.slice(0, i).trim().toLowerCase()
        if (name === 'content-type' || name === 'accept') headers[name] = line.slice(i + 1).trim()
      }
      captured ??= { body: body.toString('utf8'), headers }
    }
  })
  const clock = systemClock()
  const injector = createInjector({ baseUrl: `http://127.0.0.1:${server.port}`, model: MODEL, timeoutMs: 5000, connections: 1, clock, countTokens })
  try {
    const prompts = createPromptFactory(createRng(seed).split('prompts'))
    const r = await injector.send({
      endpoint: CHAT_PATH, prompt: prompts.make(PROMPT_TOKENS), inputTokens: PROMPT_TOKENS, maxTokens: MAX_TOKENS, stream, includeUsage: true
    }, clock.now())
    if (!r.ok || captured === null) throw new BenchError('ERR_CAPTURE', `capturing the injector's request failed: ${r.errorClass ?? 'nothing captured'} ${r.errorMessage ?? ''}`)
    return captured
  } finally {
    await injector.close()
    await server.close()
  }
}
