/**
 * Stable error classes of a failed request (`RequestResult.errorClass`). Dashboards, SLO
 * accounting and reports key on these strings, so they never change meaning:
 *
 * - `http_<status>`: the server answered with a non-2xx status (e.g. `http_429`, `http_500`).
 *   `errorMessage` holds the first ~200 characters of the error body's message and the
 *   `retry-after` header when present.
 * - `connect`: no response header ever arrived because the connection failed: refused, reset or
 *   closed before the response, DNS failure, the connect timeout (the request timeout, at most
 *   10 s), or an unparsable response head. Also a request sent after `close()`.
 * - `timeout`: the injector's own per-request timeout (`timeoutMs`, counted from the actual send)
 *   expired first; the request is aborted. This includes time spent waiting for a free connection.
 * - `stream_aborted`: the connection was closed or reset after the response headers, or a streamed
 *   body ended without `data: [DONE]` and without any `finish_reason`. (A connection lost after
 *   `[DONE]` arrived is not a failure: the answer was complete.)
 * - `bad_sse`: a streamed 2xx response whose content-type is not `text/event-stream`, or an event
 *   stream that breaks the protocol (an unknown field name; the parser runs in strict mode).
 * - `bad_json`: an SSE data payload or a non-streamed body that is not JSON, or lacks `choices`.
 * - `sse_error`: the server reported a failure inside a 2xx stream, with an `event: error` event
 *   or a data payload carrying an `error` object (how OpenAI-compatible servers fail after 200).
 *
 * Only the first failure of a request counts; protocol failures abort the request at once (the
 * connection is discarded and a fresh one opened for the next request).
 */
export type ErrorClass =
  | `http_${number}`
  | 'connect'
  | 'timeout'
  | 'stream_aborted'
  | 'bad_sse'
  | 'bad_json'
  | 'sse_error'

const MESSAGE_MAX = 200

/** Trims an error detail to the length kept in results. */
export function clip(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim()
  return t.length > MESSAGE_MAX ? `${t.slice(0, MESSAGE_MAX)}…` : t
}

/** Describes an undici/Node error as `code: message` for `errorMessage`. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const cause = (err as { cause?: unknown }).cause
    const own = typeof code === 'string' ? `${code}: ${err.message}` : err.message
    if (cause instanceof Error && cause.message !== err.message) return clip(`${own} (${cause.message})`)
    return clip(own === '' ? err.name : own)
  }
  return clip(String(err))
}

/** True for undici's own header/body timeouts, which count as `timeout` like ours. */
export function isTimeoutError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
}

/**
 * The message of an HTTP error body: OpenAI's `{error: {message}}`, the common `{message}` and
 * `{detail}` shapes, or the raw text.
 */
export function httpErrorMessage(body: string, retryAfter: string | undefined): string {
  let msg = body
  try {
    const j = JSON.parse(body) as unknown
    if (j !== null && typeof j === 'object') {
      const o = j as Record<string, unknown>
      const e = o.error
      if (e !== null && typeof e === 'object' && typeof (e as Record<string, unknown>).message === 'string') {
        msg = (e as Record<string, unknown>).message as string
      } else if (typeof e === 'string') msg = e
      else if (typeof o.message === 'string') msg = o.message
      else if (typeof o.detail === 'string') msg = o.detail
    }
  } catch {
    // Not JSON: keep the raw text.
  }
  const clipped = clip(msg)
  return retryAfter === undefined ? clipped : `${clipped} (retry-after: ${retryAfter})`
}
