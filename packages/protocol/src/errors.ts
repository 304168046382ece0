/**
 * Stable reasons a message is refused. Receivers drop and count by code; the codes never change
 * meaning (new ones may be added).
 * - ERR_TOO_LARGE: a limit from limits.ts is exceeded (message bytes, list length, string length).
 * - ERR_MALFORMED: not a valid protobuf encoding of the expected message (garbage, truncated, bad UTF-8).
 * - ERR_VERSION: `version` is missing or is not PROTOCOL_VERSION.
 * - ERR_INVALID_FIELD: well-formed, but a field is missing or out of its domain.
 */
export type ProtocolErrorCode = 'ERR_TOO_LARGE' | 'ERR_MALFORMED' | 'ERR_VERSION' | 'ERR_INVALID_FIELD'

/**
 * What every decode function returns: decoding never throws on bad input, so the mesh can drop and
 * count without try/catch around every message. `reason` names the field and the problem.
 */
export type DecodeResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: ProtocolErrorCode; reason: string }

/**
 * Thrown by the encode functions (and windowToWire) for a value that would be refused by the
 * receiver: encoding an invalid message is a programming error, not a network condition.
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
  readonly code: ProtocolErrorCode
  constructor(code: ProtocolErrorCode, message: string) {
    super(message)
    this.code = code
  }
}
