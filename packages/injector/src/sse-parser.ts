/**
 * Incremental parser for `text/event-stream` (WHATWG HTML, "Parsing an event stream"), fed with raw
 * network bytes in whatever pieces they arrive.
 *
 * It works on bytes: line ends (LF, CR, CRLF) and the field separator are ASCII, so they can be
 * found without decoding, and a UTF-8 character split across two network reads is simply part of
 * an unfinished line that waits for the next read. Each complete field value is decoded once; only
 * a line that spans reads is copied (into a reusable carry buffer).
 */
export interface SseEvent {
  /** The `event:` field, or "message" when the event had none. */
  event: string
  /** The `data:` lines of the event joined with "\n". */
  data: string
  /** The last event ID seen on the stream (it persists across events); undefined while empty. */
  id?: string
}

export interface SseParserOptions {
  /**
   * Report a field name other than data/event/id/retry as a protocol error instead of ignoring it
   * (as the standard says). OpenAI-compatible servers never send other fields, so one is a sign of
   * a broken or foreign stream.
   */
  strict?: boolean
  /** Called with a valid `retry:` value (ms). */
  onRetry?: (ms: number) => void
}

export interface SseParser {
  /**
   * Feeds the next bytes of the stream; calls `onEvent` for every event completed by them.
   * Throws `SseProtocolError` in strict mode on an unknown field; the parser then ignores all
   * further input.
   */
  push(bytes: Uint8Array): void
  /**
   * Ends the stream and returns true when it ended mid-event: an unterminated last line or
   * fields not yet dispatched by a blank line. Such a trailing event is discarded, as the standard
   * says. The parser is reset and may be reused for a new stream.
   */
  end(): boolean
}

export class SseProtocolError extends Error {
  override name = 'SseProtocolError'
  readonly code = 'ERR_SSE_PROTOCOL'
}

const LF = 10
const CR = 13
const COLON = 58
const SPACE = 32

// Field names compared as bytes so that the name is never decoded.
function isData(b: Uint8Array, s: number, n: number): boolean {
  return n === 4 && b[s] === 100 && b[s + 1] === 97 && b[s + 2] === 116 && b[s + 3] === 97
}
function isEvent(b: Uint8Array, s: number, n: number): boolean {
  return n === 5 && b[s] === 101 && b[s + 1] === 118 && b[s + 2] === 101 && b[s + 3] === 110 && b[s + 4] === 116
}
function isId(b: Uint8Array, s: number, n: number): boolean {
  return n === 2 && b[s] === 105 && b[s + 1] === 100
}
function isRetry(b: Uint8Array, s: number, n: number): boolean {
  return n === 5 && b[s] === 114 && b[s + 1] === 101 && b[s + 2] === 116 && b[s + 3] === 114 && b[s + 4] === 121
}

// Non-fatal like the standard's "UTF-8 decode" (invalid sequences become U+FFFD); ignoreBOM keeps a
// U+FEFF that is not at the very start of the stream, which the standard treats as a character.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true })

function decode(b: Uint8Array, s: number, e: number): string {
  if (s === e) return ''
  // Short ASCII values (event names, ids, "[DONE]") are common; building them directly avoids the
  // decoder's per-call overhead.
  if (e - s <= 16) {
    let ascii = true
    for (let i = s; i < e; i++) if (b[i] > 127) { ascii = false; break }
    if (ascii) return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[])
  }
  return decoder.decode(b.subarray(s, e))
}

class Parser implements SseParser {
  private readonly onEvent: (e: SseEvent) => void
  private readonly strict: boolean
  private readonly onRetry: ((ms: number) => void) | undefined
  private carry = new Uint8Array(256)
  private carryLen = 0
  private skipLF = false
  private atStreamStart = true
  private failed = false
  private data = ''
  private hasData = false
  private eventType = ''
  private lastId = ''

  constructor(onEvent: (e: SseEvent) => void, opts: SseParserOptions) {
    this.onEvent = onEvent
    this.strict = opts.strict === true
    this.onRetry = opts.onRetry
  }

  push(bytes: Uint8Array): void {
    if (this.failed) return
    const n = bytes.length
    if (n === 0) return
    let start = 0
    // A CR ended the previous read: an LF opening this one belongs to the same line end.
    if (this.skipLF) {
      this.skipLF = false
      if (bytes[0] === LF) start = 1
    }
    let i = start
    while (i < n) {
      const c = bytes[i]
      if (c !== LF && c !== CR) { i++; continue }
      this.completeLine(bytes, start, i)
      if (this.failed) return
      if (c === CR) {
        if (i + 1 < n) {
          if (bytes[i + 1] === LF) i++
        } else {
          this.skipLF = true
        }
      }
      start = ++i
    }
    if (start < n) this.append(bytes, start, n)
  }

  end(): boolean {
    const incomplete = !this.failed && (this.carryLen > 0 || this.hasData || this.eventType !== '')
    this.carryLen = 0
    this.skipLF = false
    this.atStreamStart = true
    this.failed = false
    this.data = ''
    this.hasData = false
    this.eventType = ''
    this.lastId = ''
    return incomplete
  }

  private append(bytes: Uint8Array, s: number, e: number): void {
    const need = this.carryLen + (e - s)
    if (need > this.carry.length) {
      const grown = new Uint8Array(Math.max(need, this.carry.length * 2))
      grown.set(this.carry.subarray(0, this.carryLen))
      this.carry = grown
    }
    this.carry.set(bytes.subarray(s, e), this.carryLen)
    this.carryLen = need
  }

  private completeLine(bytes: Uint8Array, s: number, e: number): void {
    if (this.carryLen === 0) {
      this.line(bytes, s, e)
      return
    }
    this.append(bytes, s, e)
    const len = this.carryLen
    this.carryLen = 0
    this.line(this.carry, 0, len)
  }

  private line(b: Uint8Array, s: number, e: number): void {
    if (this.atStreamStart) {
      this.atStreamStart = false
      if (e - s >= 3 && b[s] === 0xef && b[s + 1] === 0xbb && b[s + 2] === 0xbf) s += 3
    }
    if (s === e) { this.dispatch(); return }
    if (b[s] === COLON) return
    let colon = s
    while (colon < e && b[colon] !== COLON) colon++
    let v = colon + 1
    if (colon === e) v = e
    else if (v < e && b[v] === SPACE) v++
    const nameLen = colon - s
    if (isData(b, s, nameLen)) {
      const value = decode(b, v, e)
      if (this.hasData) this.data += '\n' + value
      else { this.data = value; this.hasData = true }
    } else if (isEvent(b, s, nameLen)) {
      this.eventType = decode(b, v, e)
    } else if (isId(b, s, nameLen)) {
      let nul = false
      for (let i = v; i < e; i++) if (b[i] === 0) { nul = true; break }
      if (!nul) this.lastId = decode(b, v, e)
    } else if (isRetry(b, s, nameLen)) {
      if (v === e) return
      for (let i = v; i < e; i++) if (b[i] < 48 || b[i] > 57) return
      this.onRetry?.(Number(decode(b, v, e)))
    } else if (this.strict) {
      this.failed = true
      const name = decode(b, s, colon)
      throw new SseProtocolError(`event stream: unknown field "${name.slice(0, 40)}" (strict mode accepts data, event, id, retry)`)
    }
  }

  private dispatch(): void {
    if (!this.hasData) { this.eventType = ''; return }
    const e: SseEvent = {
      event: this.eventType === '' ? 'message' : this.eventType,
      data: this.data,
      id: this.lastId === '' ? undefined : this.lastId
    }
    this.data = ''
    this.hasData = false
    this.eventType = ''
    this.onEvent(e)
  }
}

/** Creates an incremental event-stream parser that calls `onEvent` for each complete event. */
export function createSseParser(onEvent: (e: SseEvent) => void, opts: SseParserOptions = {}): SseParser {
  return new Parser(onEvent, opts)
}
