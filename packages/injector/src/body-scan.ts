/**
 * A fast path for the common non-streamed answer: one validating pass over the body's bytes that
 * finds what the recorder needs (is there text, is there reasoning, the usage numbers) without
 * decoding the body to a string or building the object graph JSON.parse would. JSON.parse of a
 * ~300-byte chat.completion was the largest single JS cost per request in the req-per-s profile.
 *
 * It answers only when it is sure to match what the JSON.parse path concludes, and otherwise
 * returns null so that the caller takes that path (which also words every error):
 * - the bytes are not valid JSON by the full grammar (JSON.parse would throw: bad_json);
 * - the root is not an object or `choices` is not an array;
 * - `usage` is not an object or lacks a numeric `completion_tokens` (the text must be counted),
 *   or there is reasoning text without a numeric `completion_tokens_details.reasoning_tokens`;
 * - a key we look at appears twice in one object (JSON.parse keeps the last) or is spelled with
 *   an escape (it might decode to a key we look at);
 * - nesting deeper than MAX_DEPTH.
 * Bytes >= 0x80 need no check: the JSON.parse path decodes the body as UTF-8 with replacement,
 * which never fails, and a string is non-empty whatever its bytes decode to.
 */
export interface BodyFacts {
  /** Some choice had non-empty text (chat: message.content; completions: text). */
  text: boolean
  /** Some chat choice had non-empty message.reasoning_content or message.reasoning. */
  reasoning: boolean
  /** usage.prompt_tokens when it is a number. */
  promptTokens: number | undefined
  completionTokens: number
  /** usage.completion_tokens_details.reasoning_tokens when it is a number. */
  reasoningTokens: number | undefined
}

const MAX_DEPTH = 64

// What the last value was (set by value()).
const V_OTHER = 0
const V_STR_EMPTY = 1
const V_STR = 2
const V_NUM = 3

// The objects whose keys matter.
const K_CHAT_ROOT = 0
const K_TEXT_ROOT = 6
const K_CHAT_CHOICE = 1
const K_TEXT_CHOICE = 2
const K_MESSAGE = 3
const K_USAGE = 4
const K_DETAILS = 5

const key = (s: string): Uint8Array => Buffer.from(s, 'latin1')
const CHOICES = key('choices')
const USAGE = key('usage')
const MESSAGE = key('message')
const TEXT = key('text')
const CONTENT = key('content')
const REASONING_CONTENT = key('reasoning_content')
const REASONING = key('reasoning')
const PROMPT_TOKENS = key('prompt_tokens')
const COMPLETION_TOKENS = key('completion_tokens')
const DETAILS = key('completion_tokens_details')
const REASONING_TOKENS = key('reasoning_tokens')
const TRUE = key('true')
const FALSE = key('false')
const NULL = key('null')

// One scan at a time (synchronous, never re-entered): its state lives here, not in objects.
let b: Uint8Array = new Uint8Array(0)
let end = 0
let vt = V_OTHER
let num = 0
let escaped = false
let text = false
let reasoning = false
let choicesArray = false
let usageObject = false
let promptTokens: number | undefined
let completionTokens: number | undefined
let reasoningTokens: number | undefined

/** Facts of the non-streamed answer in `body`, or null when only JSON.parse can tell (see above). */
export function scanCompletionBody(body: Uint8Array, chat: boolean): BodyFacts | null {
  b = body
  end = body.length
  text = false
  reasoning = false
  choicesArray = false
  usageObject = false
  promptTokens = undefined
  completionTokens = undefined
  reasoningTokens = undefined
  let i = ws(0)
  if (b[i] !== 123) return done(null)
  i = fields(i, 1, chat ? K_CHAT_ROOT : K_TEXT_ROOT)
  if (i < 0 || ws(i) !== end) return done(null)
  if (!choicesArray || !usageObject || completionTokens === undefined) return done(null)
  if (reasoning && reasoningTokens === undefined) return done(null)
  return done({ text, reasoning, promptTokens, completionTokens, reasoningTokens })
}

function done(r: BodyFacts | null): BodyFacts | null {
  // The body is not kept alive by the module.
  b = EMPTY
  return r
}

const EMPTY = new Uint8Array(0)

function ws(i: number): number {
  const buf = b
  const n = end
  while (i < n) {
    const c = buf[i]
    if (c === 32 || c === 10 || c === 13 || c === 9) i++
    else break
  }
  return i
}

/** At `"`: the index after the closing quote, or -1. Sets `escaped` and `vt`. */
function str(i: number): number {
  const start = i + 1
  const buf = b
  const n = end
  escaped = false
  i = start
  while (i < n) {
    const c = buf[i] as number
    if (c > 92) { i++; continue }
    if (c === 34) {
      vt = i === start ? V_STR_EMPTY : V_STR
      return i + 1
    }
    if (c === 92) {
      escaped = true
      const e = b[i + 1]
      if (e === 117) {
        for (let k = 2; k < 6; k++) {
          const h = b[i + k]
          if (h === undefined || !((h >= 48 && h <= 57) || (h >= 65 && h <= 70) || (h >= 97 && h <= 102))) return -1
        }
        i += 6
      } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2
      } else return -1
    } else if (c < 32) return -1
    else i++
  }
  return -1
}

function digits(i: number): number {
  while (i < end) {
    const c = b[i] as number
    if (c < 48 || c > 57) break
    i++
  }
  return i
}

/** At a number's first byte: the index after it, or -1. Sets `num` and `vt`. */
function number(i: number): number {
  const start = i
  let plain = true
  if (b[i] === 45) { plain = false; i++ }
  const c = b[i]
  if (c === 48) i++
  else if (c !== undefined && c >= 49 && c <= 57) i = digits(i + 1)
  else return -1
  if (b[i] === 46) {
    plain = false
    const d = digits(i + 1)
    if (d === i + 1) return -1
    i = d
  }
  const e = b[i]
  if (e === 101 || e === 69) {
    plain = false
    i++
    if (b[i] === 43 || b[i] === 45) i++
    const d = digits(i)
    if (d === i) return -1
    i = d
  }
  if (plain && i - start <= 15) {
    let v = 0
    for (let k = start; k < i; k++) v = v * 10 + ((b[k] as number) - 48)
    num = v
  } else {
    // Number() of a JSON number literal is the value JSON.parse gives it.
    num = Number(Buffer.from(b.buffer, b.byteOffset + start, i - start).toString('latin1'))
  }
  vt = V_NUM
  return i
}

function literal(i: number, word: Uint8Array): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return -1
  vt = V_OTHER
  return i + word.length
}

/** Any value at `i` (after whitespace); the index after it, or -1. Sets `vt`. */
function value(i: number, depth: number): number {
  const c = b[i]
  if (c === 34) return str(i)
  // After the members, whose strings and numbers set vt too.
  if (c === 123) { const at = fields(i, depth + 1, -1); vt = V_OTHER; return at }
  if (c === 91) { const at = elements(i, depth + 1, -1); vt = V_OTHER; return at }
  if (c === 116) return literal(i, TRUE)
  if (c === 102) return literal(i, FALSE)
  if (c === 110) return literal(i, NULL)
  if (c === 45 || (c !== undefined && c >= 48 && c <= 57)) return number(i)
  return -1
}

function keyIs(start: number, stop: number, k: Uint8Array): boolean {
  if (stop - start !== k.length) return false
  for (let j = 0; j < k.length; j++) if (b[start + j] !== k[j]) return false
  return true
}

/**
 * At `{`: validates the object and, for the kinds whose keys matter (`kind` >= 0), records what
 * its keys hold. The index after `}`, or -1.
 */
function fields(i: number, depth: number, kind: number): number {
  if (depth > MAX_DEPTH) return -1
  let seen = 0
  i = ws(i + 1)
  if (b[i] === 125) return i + 1
  for (;;) {
    if (b[i] !== 34) return -1
    const ks = i + 1
    i = str(i)
    if (i < 0) return -1
    const ke = i - 1
    const keyEscaped = escaped
    i = ws(i)
    if (b[i] !== 58) return -1
    i = ws(i + 1)
    // Which key of this object it is (a bit per key), 0 when it does not matter.
    let bit = 0
    if (kind >= 0) {
      if (keyEscaped) return -1
      bit = keyBit(kind, ks, ke)
      if (bit !== 0) {
        if ((seen & bit) !== 0) return -1
        seen |= bit
      }
    }
    if (bit === 0) i = value(i, depth)
    else i = member(kind, bit, i, depth)
    if (i < 0) return -1
    i = ws(i)
    const c = b[i]
    if (c === 44) { i = ws(i + 1); continue }
    if (c === 125) return i + 1
    return -1
  }
}

function keyBit(kind: number, ks: number, ke: number): number {
  switch (kind) {
    case K_CHAT_ROOT:
    case K_TEXT_ROOT:
      if (keyIs(ks, ke, CHOICES)) return 1
      if (keyIs(ks, ke, USAGE)) return 2
      return 0
    case K_CHAT_CHOICE:
      return keyIs(ks, ke, MESSAGE) ? 1 : 0
    case K_TEXT_CHOICE:
      return keyIs(ks, ke, TEXT) ? 1 : 0
    case K_MESSAGE:
      if (keyIs(ks, ke, CONTENT)) return 1
      if (keyIs(ks, ke, REASONING_CONTENT)) return 2
      if (keyIs(ks, ke, REASONING)) return 4
      return 0
    case K_USAGE:
      if (keyIs(ks, ke, PROMPT_TOKENS)) return 1
      if (keyIs(ks, ke, COMPLETION_TOKENS)) return 2
      if (keyIs(ks, ke, DETAILS)) return 4
      return 0
    case K_DETAILS:
      return keyIs(ks, ke, REASONING_TOKENS) ? 1 : 0
    default:
      return 0
  }
}

/** The value of a key that matters. */
function member(kind: number, bit: number, i: number, depth: number): number {
  const c = b[i]
  switch (kind) {
    case K_CHAT_ROOT:
    case K_TEXT_ROOT:
      if (bit === 2) {
        if (c !== 123) return value(i, depth)
        usageObject = true
        return fields(i, depth + 1, K_USAGE)
      }
      if (c !== 91) return value(i, depth)
      choicesArray = true
      return elements(i, depth + 1, kind === K_CHAT_ROOT ? K_CHAT_CHOICE : K_TEXT_CHOICE)
    case K_CHAT_CHOICE:
      return c === 123 ? fields(i, depth + 1, K_MESSAGE) : value(i, depth)
    case K_TEXT_CHOICE: {
      const at = value(i, depth)
      if (vt === V_STR) text = true
      return at
    }
    case K_MESSAGE: {
      const at = value(i, depth)
      if (vt === V_STR) {
        if (bit === 1) text = true
        else reasoning = true
      }
      return at
    }
    case K_USAGE: {
      if (bit === 4) return c === 123 ? fields(i, depth + 1, K_DETAILS) : value(i, depth)
      const at = value(i, depth)
      if (vt === V_NUM) {
        if (bit === 1) promptTokens = num
        else completionTokens = num
      }
      return at
    }
    case K_DETAILS: {
      const at = value(i, depth)
      if (vt === V_NUM) reasoningTokens = num
      return at
    }
    default:
      return value(i, depth)
  }
}

/** At `[`: validates the array; its objects are of `kind` (-1: keys do not matter). */
function elements(i: number, depth: number, kind: number): number {
  if (depth > MAX_DEPTH) return -1
  i = ws(i + 1)
  if (b[i] === 93) return i + 1
  for (;;) {
    if (kind >= 0 && b[i] === 123) i = fields(i, depth + 1, kind)
    else i = value(i, depth)
    if (i < 0) return -1
    i = ws(i)
    const c = b[i]
    if (c === 44) { i = ws(i + 1); continue }
    if (c === 93) return i + 1
    return -1
  }
}
