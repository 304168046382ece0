/** A tiny SSE reader for tests: `data:` payloads with the time each arrived (performance.now()). */
export interface SseEvent {
  data: string
  at: number
}

/**
 * Reads the whole stream, or until `onEvent` returns false (then cancels the body, i.e. the client
 * disconnects).
 */
export async function readSse(res: Response, onEvent?: (e: SseEvent, all: SseEvent[]) => boolean | void): Promise<SseEvent[]> {
  if (res.body === null) throw new Error('response has no body')
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  const events: SseEvent[] = []
  let buf = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return events
    const at = performance.now()
    buf += decoder.decode(value, { stream: true })
    let i: number
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i)
      buf = buf.slice(i + 2)
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n')
      const e = { data, at }
      events.push(e)
      if (onEvent?.(e, events) === false) {
        await reader.cancel()
        return events
      }
    }
  }
}
