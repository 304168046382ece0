/**
 * A request the OpenAI API would refuse. Carries everything needed to render
 * `{ error: { message, type, param, code } }` with the right status.
 */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError'
  readonly code = 'ERR_API_REQUEST'
  readonly status: number
  readonly type: string
  readonly param: string | null
  /** OpenAI's own error code (e.g. 'missing_required_parameter'), null when it has none. */
  readonly apiCode: string | null

  constructor(status: number, message: string, opts: { type?: string; param?: string | null; apiCode?: string | null } = {}) {
    super(message)
    this.status = status
    this.type = opts.type ?? 'invalid_request_error'
    this.param = opts.param ?? null
    this.apiCode = opts.apiCode ?? null
  }
}

/** The OpenAI error body, serialised. */
export function errorBody(message: string, type: string, param: string | null, code: string | null): string {
  return JSON.stringify({ error: { message, type, param, code } })
}
