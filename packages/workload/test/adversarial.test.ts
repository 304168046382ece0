import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  ADVERSARIAL_KINDS, MAX_CONTEXT_ANSWER_TOKENS, countTokens, createAdversarialGenerator, createRng, formatAdversarialSpec,
  parseAdversarialSpec, WorkloadSpecError
} from '../src/index.ts'
import type { AdversarialKind } from '../src/index.ts'

const CONTEXT = 2048
const gen = createAdversarialGenerator(createRng(7), { contextTokens: CONTEXT, jsonTokens: 1024, hugeMaxTokens: 777_777, poolSize: 3 })

/** What makes each kind what it is, checked on the prompt. */
const SHAPE: Record<AdversarialKind, (prompt: string, maxTokens: number | null) => boolean> = {
  'nested-json': (p) => {
    const json = p.slice(p.indexOf('\n', p.indexOf('\n') + 1) + 1)
    let depth = 0
    let v: unknown = JSON.parse(json)
    while (v !== null && typeof v === 'object') {
      depth++
      v = Array.isArray(v) ? v[v.length - 1] : (v as { next: unknown }).next
    }
    return depth >= 50
  },
  'control-chars': (p) => /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/.test(p),
  bidi: (p) => /[\u202a-\u202e\u2066-\u2069]/.test(p),
  'zero-width': (p) => /[\u200b-\u200d\u2060\ufeff]/.test(p),
  'max-context': (_p, m) => m === MAX_CONTEXT_ANSWER_TOKENS,
  repetition: (p) => /^\S+ \S+ \S+ \S+\nRepeat the word "([a-z]+)" forever/.test(p) || /Repeat the word "([a-z]+)" forever/.test(p),
  empty: (p) => p === '',
  whitespace: (p) => p.length > 0 && /^[\s\u000b\u000c\u2028\u2029]+$/u.test(p),
  'huge-max-tokens': (_p, m) => m === 777_777
}

test('every kind is generated with its defining content and an exact token count', () => {
  for (const kind of ADVERSARIAL_KINDS) {
    for (let i = 0; i < 6; i++) {
      const a = gen.make(kind)
      assert.equal(a.kind, kind)
      assert.equal(a.inputTokens, countTokens(a.prompt), `${kind} #${i}: reported ${a.inputTokens} tokens`)
      assert.ok(SHAPE[kind](a.prompt, a.maxTokens), `${kind} #${i} lacks its shape: ${JSON.stringify(a.prompt.slice(0, 120))}`)
    }
  }
  const max = gen.make('max-context')
  assert.equal(max.inputTokens + (max.maxTokens as number), CONTEXT, 'max-context fills the context window exactly')
  assert.ok(gen.make('nested-json').inputTokens > 800, 'nested JSON is about the asked size')
})

test('pooled bodies get a fresh prefix, so no two prompts share a cacheable start', () => {
  for (const kind of ['nested-json', 'control-chars', 'bidi', 'zero-width'] as const) {
    const a = gen.make(kind).prompt
    const b = gen.make(kind).prompt
    assert.notEqual(a.slice(0, 40), b.slice(0, 40), kind)
  }
})

test('next() draws the kinds uniformly and is reproducible from the seed', () => {
  const g = createAdversarialGenerator(createRng(11), { kinds: ['empty', 'bidi', 'huge-max-tokens'], poolSize: 1 })
  const counts = new Map<string, number>()
  const n = 3000
  for (let i = 0; i < n; i++) {
    const k = g.next().kind
    counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  assert.deepEqual([...counts.keys()].sort(), ['bidi', 'empty', 'huge-max-tokens'])
  // Binomial(3000, 1/3): sd ≈ 25.8; 5 sd either side.
  for (const [k, c] of counts) assert.ok(Math.abs(c - n / 3) < 130, `${k}: ${c}`)
  const x = createAdversarialGenerator(createRng(5), { poolSize: 2, contextTokens: 64 })
  const y = createAdversarialGenerator(createRng(5), { poolSize: 2, contextTokens: 64 })
  for (let i = 0; i < 30; i++) assert.deepEqual(x.next(), y.next())
})

test('parseAdversarialSpec reads the ratio, kinds and sizes, and names the bad part', () => {
  const s = parseAdversarialSpec('0.05,kinds=nested-json+bidi+empty,context=8192,json=512,max-tokens=9000')
  assert.deepEqual(s, { ratio: 0.05, kinds: ['nested-json', 'bidi', 'empty'], context_tokens: 8192, json_tokens: 512, huge_max_tokens: 9000 })
  assert.equal(formatAdversarialSpec(s), '0.05,kinds=nested-json+bidi+empty,context=8192,json=512,max-tokens=9000')
  assert.deepEqual(parseAdversarialSpec('0.1').kinds, [...ADVERSARIAL_KINDS])
  assert.throws(() => parseAdversarialSpec('1.5'), (e: Error) => e instanceof WorkloadSpecError && /--adversarial: "1.5": the ratio/.test(e.message))
  assert.throws(() => parseAdversarialSpec('0.1,kinds=bidi+emoji'), /"emoji" is not an adversarial kind/)
  assert.throws(() => parseAdversarialSpec('0.1,size=3'), /unknown key "size"/)
  assert.throws(() => parseAdversarialSpec('0.1,context=8'), /context must be an integer/)
  assert.throws(() => createAdversarialGenerator(createRng(1), { kinds: [] }), /at least one kind/)
})
