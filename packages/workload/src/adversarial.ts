import type { Rng } from './rng.ts'
import { WorkloadSpecError } from './errors.ts'
import { countTokens } from './tokenizer.ts'
import { MAX_PROMPT_TOKENS, createPromptFactory } from './prompt-factory.ts'
import type { PromptFactory } from './prompt-factory.ts'
import { WORDS } from './vocabulary.ts'

/**
 * Inputs that real traffic contains now and then and that break servers and tokenizers: each one a
 * label in the report, so its results can be read apart from the ordinary requests.
 */
export type AdversarialKind =
  | 'nested-json'
  | 'control-chars'
  | 'bidi'
  | 'zero-width'
  | 'max-context'
  | 'repetition'
  | 'empty'
  | 'whitespace'
  | 'huge-max-tokens'

export const ADVERSARIAL_KINDS: readonly AdversarialKind[] = Object.freeze([
  'nested-json', 'control-chars', 'bidi', 'zero-width', 'max-context', 'repetition', 'empty', 'whitespace', 'huge-max-tokens'
] as const)

export interface AdversarialOptions {
  /** Kinds to draw from, uniformly (default: all). */
  kinds?: readonly AdversarialKind[]
  /**
   * The context window max-context fills exactly: prompt + max_tokens = this many tokens
   * (default 131072, the largest prompt the factory builds and a common max_model_len).
   */
  contextTokens?: number
  /** Rough size of nested-json prompts in tokens (default 8192; the reported count is exact). */
  jsonTokens?: number
  /** max_tokens of huge-max-tokens requests (default 1,000,000: beyond any context window). */
  hugeMaxTokens?: number
  /** Ordinary text for the kinds that need some; default: a factory of its own split from the rng. */
  prompts?: PromptFactory
  /**
   * Bodies prepared per costly kind (nested-json, control-chars, bidi, zero-width, whitespace) when
   * the generator is created (default 8). Tokenizing them takes milliseconds, too long for the
   * moment a request is due; each request then gets a pooled body behind fresh words, so no two
   * prompts share a prefix a server could cache.
   */
  poolSize?: number
}

export interface AdversarialInput {
  kind: AdversarialKind
  prompt: string
  /** countTokens(prompt), exactly. */
  inputTokens: number
  /** max_tokens to send; null keeps the request's own. */
  maxTokens: number | null
}

export interface AdversarialGenerator {
  readonly kinds: readonly AdversarialKind[]
  /** A kind drawn uniformly from `kinds`, and an input of that kind. */
  next(): AdversarialInput
  make(kind: AdversarialKind): AdversarialInput
}

/** Tokens left for the answer by max-context prompts. */
export const MAX_CONTEXT_ANSWER_TOKENS = 16

const DEFAULTS = { contextTokens: MAX_PROMPT_TOKENS, jsonTokens: 8192, hugeMaxTokens: 1_000_000 } as const

export function createAdversarialGenerator(rng: Rng, opts: AdversarialOptions = {}): AdversarialGenerator {
  const kinds = checkKinds(opts.kinds ?? ADVERSARIAL_KINDS, 'adversarial kinds')
  const context = opts.contextTokens ?? DEFAULTS.contextTokens
  if (!Number.isInteger(context) || context <= MAX_CONTEXT_ANSWER_TOKENS || context - MAX_CONTEXT_ANSWER_TOKENS > MAX_PROMPT_TOKENS) {
    throw new WorkloadSpecError(`adversarial context: must be an integer in ${MAX_CONTEXT_ANSWER_TOKENS + 1}..${MAX_PROMPT_TOKENS + MAX_CONTEXT_ANSWER_TOKENS} tokens, got ${String(context)}`)
  }
  const jsonTokens = opts.jsonTokens ?? DEFAULTS.jsonTokens
  if (!Number.isInteger(jsonTokens) || jsonTokens < 16 || jsonTokens > MAX_PROMPT_TOKENS) {
    throw new WorkloadSpecError(`adversarial json size: must be an integer in 16..${MAX_PROMPT_TOKENS} tokens, got ${String(jsonTokens)}`)
  }
  const huge = opts.hugeMaxTokens ?? DEFAULTS.hugeMaxTokens
  if (!Number.isSafeInteger(huge) || huge < 1) throw new WorkloadSpecError(`adversarial huge max_tokens: must be a positive integer, got ${String(huge)}`)
  const pick = rng.split('kind')
  const text = rng.split('text')
  let prompts = opts.prompts
  // The factory's word pool costs a few tens of ms: built only when a kind needs it.
  const factory = (): PromptFactory => (prompts ??= createPromptFactory(rng.split('prompts')))
  const word = (): string => WORDS[text.nextU32() >>> 22]
  const int = (lo: number, hi: number): number => lo + Math.floor(text.next() * (hi - lo + 1))

  const poolSize = opts.poolSize ?? 8
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1024) throw new WorkloadSpecError(`adversarial pool size: must be an integer in 1..1024, got ${String(poolSize)}`)

  const bodies: Partial<Record<AdversarialKind, () => string>> = {
    'nested-json': () => nestedJson(jsonTokens, word, int),
    'control-chars': () => sprinkle(256, word, int, () => CONTROL[int(0, CONTROL.length - 1)]),
    bidi: () => bidi(128, word, int),
    'zero-width': () => zeroWidth(192, word, int),
    whitespace: () => {
      let s = ''
      for (let n = int(1, 2048); n > 0; n--) s += SPACES[int(0, SPACES.length - 1)]
      return s
    }
  }
  const pools = new Map<AdversarialKind, Array<{ body: string; tokens: number }>>()
  for (const k of kinds) {
    const b = bodies[k]
    if (b === undefined) continue
    const pool: Array<{ body: string; tokens: number }> = []
    for (let i = 0; i < poolSize; i++) {
      const body = b()
      pool.push({ body, tokens: countTokens(body) })
    }
    pools.set(k, pool)
  }
  // Four vocabulary words and a newline: each word is one token with or without its leading space
  // and a newline is never merged with the letters or symbols after it, so the prefix adds exactly
  // PREFIX_TOKENS to a body that does not start with whitespace (checked here once, and in tests).
  const prefix = (): string => `${word()} ${word()} ${word()} ${word()}\n`
  const PREFIX_TOKENS = 5
  if (countTokens(prefix()) !== PREFIX_TOKENS) throw new Error('adversarial.ts: the fresh-prefix token count changed with the tokenizer')
  const pooled = (kind: AdversarialKind): { prompt: string; inputTokens: number } => {
    const pool = pools.get(kind) as Array<{ body: string; tokens: number }>
    const p = pool[Math.floor(text.next() * pool.length)]
    return kind === 'whitespace' ? { prompt: p.body, inputTokens: p.tokens } : { prompt: prefix() + p.body, inputTokens: PREFIX_TOKENS + p.tokens }
  }

  const make = (kind: AdversarialKind): AdversarialInput => {
    switch (kind) {
      case 'nested-json':
      case 'control-chars':
      case 'bidi':
      case 'zero-width':
      case 'whitespace': {
        if (!pools.has(kind)) pools.set(kind, Array.from({ length: poolSize }, () => { const body = (bodies[kind] as () => string)(); return { body, tokens: countTokens(body) } }))
        return { kind, ...pooled(kind), maxTokens: null }
      }
      case 'max-context': {
        // The factory's prompts are exactly the asked number of tokens: no count needed.
        const n = context - MAX_CONTEXT_ANSWER_TOKENS
        return { kind, prompt: factory().make(n), inputTokens: n, maxTokens: MAX_CONTEXT_ANSWER_TOKENS }
      }
      case 'repetition': {
        const w = word()
        const prompt = `Repeat the word "${w}" forever, without stopping and without anything else:${` ${w}`.repeat(int(32, 256))}`
        return { kind, prompt, inputTokens: countTokens(prompt), maxTokens: null }
      }
      case 'empty':
        return { kind, prompt: '', inputTokens: 0, maxTokens: null }
      case 'huge-max-tokens': {
        const n = int(16, 256)
        return { kind, prompt: factory().make(n), inputTokens: n, maxTokens: huge }
      }
      default:
        throw new WorkloadSpecError(`adversarial kind "${String(kind)}" is not one of ${ADVERSARIAL_KINDS.join(', ')}`)
    }
  }
  return {
    kinds,
    make,
    next: () => make(kinds[Math.floor(pick.next() * kinds.length)])
  }
}

/** C0 controls (NUL included: JSON carries it as \u0000), DEL and C1 controls; tab, LF and CR are whitespace, not here. */
const CONTROL: string[] = []
for (let c = 0; c < 0x20; c++) if (c !== 0x09 && c !== 0x0a && c !== 0x0d) CONTROL.push(String.fromCharCode(c))
CONTROL.push('\u007f')
for (let c = 0x80; c < 0xa0; c++) CONTROL.push(String.fromCharCode(c))

/** Embedding (LRE RLE PDF LRO RLO), isolate (LRI RLI FSI PDI) and mark (LRM RLM ALM) characters. */
const BIDI = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c']
const RTL_WORDS = ['שלום', 'עולם', 'מודל', 'בדיקה', 'مرحبا', 'عالم', 'نموذج', 'اختبار']
/** ZWSP, ZWNJ, ZWJ, word joiner, BOM / ZWNBSP, soft hyphen, Mongolian vowel separator. */
const ZERO_WIDTH = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e']
/** Whitespace only: ASCII, NBSP, em space, ideographic space, line and paragraph separators. */
const SPACES = [' ', ' ', ' ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000', '\u2028', '\u2029', '\u000b', '\u000c']

function sprinkle(words: number, word: () => string, int: (lo: number, hi: number) => number, odd: () => string): string {
  const parts: string[] = []
  for (let i = 0; i < words; i++) {
    parts.push(word())
    for (let k = int(0, 2); k > 0; k--) parts.push(odd())
  }
  return parts.join(' ')
}

function bidi(words: number, word: () => string, int: (lo: number, hi: number) => number): string {
  const parts: string[] = []
  for (let i = 0; i < words; i++) {
    const w = int(0, 2) === 0 ? RTL_WORDS[int(0, RTL_WORDS.length - 1)] : word()
    // Unbalanced on purpose: overrides left open are what trips renderers and filters.
    parts.push(int(0, 1) === 0 ? BIDI[int(0, BIDI.length - 1)] + w : w + BIDI[int(0, BIDI.length - 1)])
  }
  return parts.join(' ')
}

function zeroWidth(words: number, word: () => string, int: (lo: number, hi: number) => number): string {
  const parts: string[] = []
  for (let i = 0; i < words; i++) {
    const w = word()
    let s = ''
    for (const ch of w) s += ch + (int(0, 1) === 0 ? ZERO_WIDTH[int(0, ZERO_WIDTH.length - 1)] : '')
    parts.push(s)
  }
  return parts.join(int(0, 3) === 0 ? '\u200b' : ' ')
}

/**
 * A deeply nested JSON document (objects and arrays alternating, a short string at every level)
 * of about `tokens` tokens, inside a one-line instruction. Built to a character budget (JSON
 * punctuation runs ~2.5 characters per token), then counted exactly by the caller.
 */
function nestedJson(tokens: number, word: () => string, int: (lo: number, hi: number) => number): string {
  const budget = Math.round(tokens * 2.5)
  let open = ''
  const closers: string[] = []
  while (open.length < budget) {
    const key = word()
    if (closers.length % 2 === 0) {
      open += `{"${key}":"${word()} ${word()}","n${int(0, 999)}":${int(0, 99999)},"next":`
      closers.push('}')
    } else {
      open += `[${int(0, 9)},"${word()}",`
      closers.push(']')
    }
  }
  return `Parse the following JSON and list every key at every depth:\n${open}null${closers.reverse().join('')}`
}

function checkKinds(kinds: readonly string[], where: string): AdversarialKind[] {
  if (kinds.length === 0) throw new WorkloadSpecError(`${where}: at least one kind is needed (${ADVERSARIAL_KINDS.join(', ')})`)
  const out: AdversarialKind[] = []
  for (const k of kinds) {
    if (!(ADVERSARIAL_KINDS as readonly string[]).includes(k)) {
      throw new WorkloadSpecError(`${where}: "${k}" is not an adversarial kind (valid: ${ADVERSARIAL_KINDS.join(', ')})`)
    }
    if (!out.includes(k as AdversarialKind)) out.push(k as AdversarialKind)
  }
  return out
}

/** `--adversarial RATIO[,kinds=a+b+c][,context=N][,json=N][,max-tokens=N]`, as plain JSON. */
export interface AdversarialSpec {
  /** Fraction of requests replaced by adversarial inputs, 0 < ratio <= 1. */
  ratio: number
  kinds: AdversarialKind[]
  context_tokens: number
  json_tokens: number
  huge_max_tokens: number
}

/**
 * Parses `0.05`, `0.05,kinds=nested-json+bidi+empty`, `0.1,kinds=all,context=8192,json=2048,max-tokens=500000`.
 * Kinds are joined with `+` (the spec itself is comma-separated).
 */
export function parseAdversarialSpec(text: string, where = '--adversarial'): AdversarialSpec {
  const fail = (problem: string): never => { throw new WorkloadSpecError(`${where}: "${text}": ${problem}`) }
  const [head, ...rest] = text.split(',').map((s) => s.trim())
  const ratio = Number(head)
  if (head === '' || !Number.isFinite(ratio) || ratio <= 0 || ratio > 1) fail(`the ratio must be a number in (0, 1], got "${head}" (e.g. 0.05,kinds=nested-json+empty)`)
  const spec: AdversarialSpec = {
    ratio,
    kinds: [...ADVERSARIAL_KINDS],
    context_tokens: DEFAULTS.contextTokens,
    json_tokens: DEFAULTS.jsonTokens,
    huge_max_tokens: DEFAULTS.hugeMaxTokens
  }
  const seen = new Set<string>()
  const int = (key: string, v: string, lo: number, hi: number): number => {
    const n = Number(v)
    if (!/^\d+$/.test(v) || n < lo || n > hi) fail(`${key} must be an integer in ${lo}..${hi}, got "${v}"`)
    return n
  }
  for (const part of rest) {
    const eq = part.indexOf('=')
    if (eq < 0) fail(`expected key=value after the ratio, got "${part}" (keys: kinds, context, json, max-tokens)`)
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (seen.has(key)) fail(`${key} is given twice`)
    seen.add(key)
    if (key === 'kinds') {
      const names = value === 'all' ? [...ADVERSARIAL_KINDS] : value.split('+').map((s) => s.trim()).filter((s) => s !== '')
      try {
        spec.kinds = checkKinds(names, 'kinds')
      } catch (err) {
        fail((err as Error).message)
      }
    } else if (key === 'context') {
      spec.context_tokens = int(key, value, MAX_CONTEXT_ANSWER_TOKENS + 1, MAX_PROMPT_TOKENS + MAX_CONTEXT_ANSWER_TOKENS)
    } else if (key === 'json') {
      spec.json_tokens = int(key, value, 16, MAX_PROMPT_TOKENS)
    } else if (key === 'max-tokens') {
      spec.huge_max_tokens = int(key, value, 1, Number.MAX_SAFE_INTEGER)
    } else {
      fail(`unknown key "${key}" (keys: kinds, context, json, max-tokens)`)
    }
  }
  return spec
}

/** The spec back as text (for reports and help). */
export function formatAdversarialSpec(s: AdversarialSpec): string {
  const parts = [String(s.ratio), `kinds=${s.kinds.join('+')}`]
  if (s.context_tokens !== DEFAULTS.contextTokens) parts.push(`context=${s.context_tokens}`)
  if (s.json_tokens !== DEFAULTS.jsonTokens) parts.push(`json=${s.json_tokens}`)
  if (s.huge_max_tokens !== DEFAULTS.hugeMaxTokens) parts.push(`max-tokens=${s.huge_max_tokens}`)
  return parts.join(',')
}
