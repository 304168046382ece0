import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { scanCompletionBody } from '../src/body-scan.ts'
import type { BodyFacts } from '../src/body-scan.ts'

/**
 * What response-recorder.ts's JSON.parse path concludes from a non-streamed body, when it takes
 * the body as a success with a numeric usage.completion_tokens (the only case the scan may answer).
 */
function reference(body: Buffer, chat: boolean): BodyFacts | null {
  let o: unknown
  try {
    o = JSON.parse(body.toString('utf8'))
  } catch {
    return null
  }
  const root = (o !== null && typeof o === 'object' ? o : {}) as Record<string, unknown>
  if (!Array.isArray(root.choices)) return null
  let text = false
  let reasoning = false
  const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0
  for (const c of root.choices as unknown[]) {
    if (c === null || typeof c !== 'object') continue
    const choice = c as Record<string, unknown>
    if (chat) {
      const m = choice.message as Record<string, unknown> | null | undefined
      if (m === null || typeof m !== 'object') continue
      if (nonEmpty(m.content)) text = true
      if (nonEmpty(m.reasoning_content) || nonEmpty(m.reasoning)) reasoning = true
    } else if (nonEmpty(choice.text)) text = true
  }
  const u = root.usage as Record<string, unknown> | null | undefined
  if (u === null || typeof u !== 'object') return null
  if (typeof u.completion_tokens !== 'number') return null
  const details = u.completion_tokens_details as Record<string, unknown> | null | undefined
  const rt = details?.reasoning_tokens
  return {
    text,
    reasoning,
    promptTokens: typeof u.prompt_tokens === 'number' ? u.prompt_tokens : undefined,
    completionTokens: u.completion_tokens,
    reasoningTokens: typeof rt === 'number' ? rt : undefined
  }
}

const json = fc.jsonValue({ maxDepth: 3 })
const texty = fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 12 }), json)
const count = fc.oneof(fc.nat({ max: 100_000 }), fc.integer({ min: -3, max: 3 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 3 }), fc.constant(null))
const opt = { requiredKeys: [] as never[] }
const message = fc.oneof(json, fc.record({ role: fc.constant('assistant'), content: texty, reasoning_content: texty, reasoning: texty }, opt))
const choice = fc.oneof(json, fc.record({ index: fc.nat(3), message, text: texty, finish_reason: fc.constantFrom('stop', null) }, opt))
const usage = fc.oneof(
  json,
  fc.record({ prompt_tokens: count, completion_tokens: count, completion_tokens_details: fc.oneof(json, fc.record({ reasoning_tokens: count }, opt)) }, opt)
)
const completion = fc.record({ id: fc.string(), choices: fc.oneof(fc.array(choice, { maxLength: 3 }), json), usage, error: json, extra: json }, opt)
const serialized = fc.tuple(completion, fc.constantFrom(undefined, 1, '\t', '\r\n ')).map(([o, space]) => JSON.stringify(o, null, space))

const MUTANTS = ['"', '\\', ',', '}', ']', '{', '[', ':', ' ', '0', '-', 'e', '.', '\u0001', 'x', '\ufeff', '\\u', 'é', 'null', '""']
const mutation = fc.tuple(fc.nat(), fc.constantFrom('cut', 'drop', 'insert', 'replace'), fc.constantFrom(...MUTANTS))
function mutate(s: string, [at, how, what]: [number, string, string]): string {
  const k = s.length === 0 ? 0 : at % s.length
  if (how === 'cut') return s.slice(0, k)
  if (how === 'drop') return s.slice(0, k) + s.slice(k + 1)
  if (how === 'insert') return s.slice(0, k) + what + s.slice(k)
  return s.slice(0, k) + what + s.slice(k + 1)
}

function check(s: string, chat: boolean): boolean {
  const body = Buffer.from(s, 'utf8')
  const got = scanCompletionBody(body, chat)
  if (got === null) return true
  assert.deepEqual(got, reference(body, chat), s)
  return true
}

test('property: whenever the scan answers, JSON.parse concludes the same (random completion-like bodies)', () => {
  fc.assert(fc.property(serialized, fc.boolean(), check), { seed: 11, numRuns: 3000 })
})

test('property: mutated bodies (cut, dropped, inserted or replaced characters) are never misread', () => {
  fc.assert(fc.property(serialized, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (s, ms, chat) => {
    let m = s
    for (const x of ms) m = mutate(m, x)
    return check(m, chat)
  }), { seed: 12, numRuns: 4000 })
})

const CHAT = {
  id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello "there" \\ é 😀\n' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 128, completion_tokens: 7, total_tokens: 135 }
}

test('the usual answers take the fast path: chat, completions, reasoning, whitespace, escapes', () => {
  const cases: [unknown, boolean, BodyFacts][] = [
    [CHAT, true, { text: true, reasoning: false, promptTokens: 128, completionTokens: 7, reasoningTokens: undefined }],
    [{ choices: [{ text: ' a b', finish_reason: 'length' }], usage: { prompt_tokens: 3, completion_tokens: 2 } }, false,
      { text: true, reasoning: false, promptTokens: 3, completionTokens: 2, reasoningTokens: undefined }],
    [{ choices: [{ message: { content: '', reasoning_content: 'think' } }], usage: { completion_tokens: 9, completion_tokens_details: { reasoning_tokens: 5 } } }, true,
      { text: false, reasoning: true, promptTokens: undefined, completionTokens: 9, reasoningTokens: 5 }],
    [{ choices: [], usage: { prompt_tokens: 1.5e3, completion_tokens: 0 }, error: null }, true,
      { text: false, reasoning: false, promptTokens: 1500, completionTokens: 0, reasoningTokens: undefined }]
  ]
  for (const [o, chat, want] of cases) {
    for (const space of [undefined, 2]) {
      const body = Buffer.from(JSON.stringify(o, null, space))
      assert.deepEqual(scanCompletionBody(body, chat), want)
      assert.deepEqual(reference(body, chat), want)
    }
  }
})

test('the scan leaves to JSON.parse what it cannot be sure of', () => {
  const good = JSON.stringify(CHAT)
  const unsure = [
    good.replace('"usage"', '"\\u0075sage"'),
    good.replace('{"id"', '{"usage":{"completion_tokens":1},"id"'),
    good.replace('"message":', '"message":{"content":"x"},"message":'),
    good.replace(',"usage":{"prompt_tokens":128,"completion_tokens":7,"total_tokens":135}', ''),
    good.replace('"completion_tokens":7', '"completion_tokens":"7"'),
    JSON.stringify({ choices: [{ message: { reasoning: 'r' } }], usage: { completion_tokens: 1 } }),
    JSON.stringify({ choices: { 0: {} }, usage: { completion_tokens: 1 } }),
    JSON.stringify([CHAT]),
    `\ufeff${good}`,
    `${good},`,
    `${good}x`,
    good.replace('128', '0128'),
    good.replace('128', '128.'),
    good.replace('"Hello', '"\u0001Hello'),
    good.replace('"Hello', '"\\xHello'),
    good.replace('"model":"m"', '"model":"m",'),
    good.replace('"model":"m"', `"model":${'['.repeat(100)}${']'.repeat(100)}`)
  ]
  for (const s of unsure) assert.equal(scanCompletionBody(Buffer.from(s), true), null, s)
  assert.equal(scanCompletionBody(Buffer.alloc(0), true), null)
})
