import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode } from 'gpt-tokenizer/encoding/o200k_base'
import {
  countTokens, createPromptFactory, createRng, createTextSource, MAX_PROMPT_TOKENS, TOKENIZER, WorkloadSpecError
} from '../src/index.ts'
import { WORDS } from '../src/vocabulary.ts'

test('the tokenizer is o200k_base and counts like the library does', () => {
  assert.equal(TOKENIZER, 'gpt-tokenizer o200k_base')
  const text = 'Hello, world! Tokenizers split text into pieces; naïve café ☕ 12345.'
  assert.equal(countTokens(text), encode(text).length)
  assert.equal(countTokens(''), 0)
  // text spelling a special token is ordinary text, not an error
  assert.ok(countTokens('<|endoftext|>') > 1)
})

test('the vocabulary: 1024 distinct lower-case words, each one token alone and with a leading space', () => {
  assert.equal(WORDS.length, 1024)
  assert.equal(new Set(WORDS).size, 1024)
  for (const w of WORDS) {
    assert.match(w, /^[a-z]+$/)
    assert.equal(encode(w).length, 1, `"${w}"`)
    assert.equal(encode(' ' + w).length, 1, `" ${w}"`)
  }
})

test('any two vocabulary words tokenize independently when joined by a space', () => {
  // Each row "a b1 a b2 ... a bn" contains every ordered pair (a, b) and (b, a).
  for (const a of WORDS) {
    const row = WORDS.map((b) => `${a} ${b}`).join(' ')
    assert.equal(countTokens(row), 2 * WORDS.length, `row of "${a}"`)
  }
})

test('make(n) has exactly n tokens, for 0, 1, the maximum and many random sizes', () => {
  const factory = createPromptFactory(createRng('prompts'))
  const sizes = [0, 1, 2, 3, 4, 5, 6, 16, 17, 100, 2000, MAX_PROMPT_TOKENS - 1, MAX_PROMPT_TOKENS]
  const pick = createRng('sizes')
  for (let i = 0; i < 150; i++) sizes.push(Math.floor(Math.exp(pick.next() * Math.log(MAX_PROMPT_TOKENS + 1))))
  for (let i = 0; i < 10; i++) sizes.push(MAX_PROMPT_TOKENS - Math.floor(pick.next() * 1000))
  for (const n of sizes) {
    const p = factory.make(n)
    assert.equal(countTokens(p), n, `make(${n})`)
    assert.equal(p.trim(), p, 'no leading or trailing space')
  }
  assert.equal(factory.make(0), '')
})

test('prompts are distinct from their first token, and reproducible from the seed', () => {
  const a = createPromptFactory(createRng('p').split('x'))
  const b = createPromptFactory(createRng('p').split('x'))
  const pa = Array.from({ length: 200 }, () => a.make(64))
  const pb = Array.from({ length: 200 }, () => b.make(64))
  assert.deepEqual(pa, pb)
  // distinct prefixes: the first 4 words almost never coincide (40 random bits)
  const heads = new Set(pa.map((p) => p.split(' ').slice(0, 4).join(' ')))
  assert.equal(heads.size, pa.length)
  const other = createPromptFactory(createRng('p').split('y'))
  assert.notEqual(other.make(64), createPromptFactory(createRng('p').split('x')).make(64))
})

test('bad prompt sizes are refused', () => {
  const f = createPromptFactory(createRng(1))
  for (const n of [-1, 1.5, MAX_PROMPT_TOKENS + 1, Number.NaN]) {
    assert.throws(() => f.make(n), (e: unknown) => e instanceof WorkloadSpecError && /prompt size/.test(e.message), String(n))
  }
})

test('the text source yields one token per call and reads as text', () => {
  const src = createTextSource(createRng('out'))
  let text = ''
  for (let i = 0; i < 5000; i++) {
    const t = src.token(i)
    assert.equal(countTokens(t), 1)
    text += t
  }
  assert.equal(countTokens(text), 5000)
  assert.equal(text.trim(), text)
  assert.equal(src.token(7), src.token(7))
  const again = createTextSource(createRng('out'))
  assert.equal(again.token(123), src.token(123))
})
