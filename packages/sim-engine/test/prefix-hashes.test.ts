import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createPromptFactory, createRng } from '@loadmesh/workload'
import { prefixBlockHashes } from '../src/index.ts'

test('one hash per full block of the prompt', () => {
  const text = Array.from({ length: 100 }, (_, i) => ` word${i}`).join('')
  assert.equal(prefixBlockHashes(text, 100).length, 6)
  assert.equal(prefixBlockHashes(text, 100, 10).length, 10)
  assert.deepEqual(prefixBlockHashes(text, 15), [])
  assert.deepEqual(prefixBlockHashes('', 0), [])
})

test('hashes are 53-bit integers, and a prompt always gives the same ones', () => {
  const text = createPromptFactory(createRng(1)).make(1000)
  const a = prefixBlockHashes(text, 1000)
  assert.deepEqual(a, prefixBlockHashes(text, 1000))
  assert.ok(a.every((h) => Number.isSafeInteger(h) && h >= 0))
  assert.equal(new Set(a).size, a.length)
})

test('a conversation that grows keeps every full block of the previous turn (property)', () => {
  // loadmesh prompts are one word per token, so the previous turn's full blocks are exact.
  const prompts = createPromptFactory(createRng(2))
  fc.assert(fc.property(fc.integer({ min: 16, max: 3000 }), fc.integer({ min: 1, max: 2000 }), (n1, added) => {
    const turn1 = prompts.make(n1)
    const turn2 = turn1 + prompts.make(added).replace(/^/, ' ')
    const h1 = prefixBlockHashes(turn1, n1)
    const h2 = prefixBlockHashes(turn2, n1 + added)
    assert.deepEqual(h2.slice(0, h1.length), h1)
  }), { numRuns: 200, seed: 42 })
})

test('the shared run stops at the first block that differs', () => {
  const words = (from: number, n: number): string => Array.from({ length: n }, (_, i) => ` w${from + i}`).join('')
  const a = words(0, 64) + words(1000, 64)
  const b = words(0, 64) + words(2000, 64)
  const ha = prefixBlockHashes(a, 128)
  const hb = prefixBlockHashes(b, 128)
  assert.deepEqual(ha.slice(0, 4), hb.slice(0, 4))
  for (let i = 4; i < 8; i++) assert.notEqual(ha[i], hb[i])
})

test('text with fewer pieces than tokens still gives one distinct hash per block', () => {
  // 40 long "words" counted as 100 tokens by the caller's tokenizer.
  const text = Array.from({ length: 40 }, (_, i) => ` supercalifragilistic${i}`).join('')
  const h = prefixBlockHashes(text, 100)
  assert.equal(h.length, 6)
  assert.equal(new Set(h).size, 6)
  const empty = prefixBlockHashes('', 64)
  assert.equal(new Set(empty).size, 4)
})

test('punctuation and CJK characters count as pieces of their own', () => {
  const punct = Array.from({ length: 16 }, () => '!').join('')
  assert.equal(prefixBlockHashes(punct + punct, 32).length, 2)
  const cjk = '日本語のテキストです。'.repeat(4)
  assert.equal(prefixBlockHashes(cjk, 44).length, 2)
})
