import type { Rng } from '@loadmesh/workload'

/**
 * Common English words that are each exactly one token, alone and after a space, in both cl100k_base
 * and o200k_base: so a response of N simulated tokens counts as N tokens for a client that counts
 * text (checked by a test against `countTokens`). Plain [a-z] so no JSON escaping is ever needed.
 */
export const WORDS: readonly string[] = `
the of and to in is that for it as was with be by on not
this are or from at which but have an they you were there one all we
their been has when who will more no if out so said what up its about
into than them can only other new some time could these two may then do first
any now such like our over even most made after also did many before must through
back years where much your way well down should because each just those people how too
little state good very make world still own see work long get here between both life
being under never day same another know while last might great old year off come since
against go came right used take three states few house use during without again place around
however home small found thought went say part once general high school every does got left
number course until always away something fact though water less public put think almost hand far
head yet system better set nothing night end why called eyes find going look later point
next city business give group young let room side social given present order national possible rather
second face among form important often things early white case large big need four within felt
along children best ever least power development light thing family interest want members mind country area
others done turned although open service kind problem different door help sense means whole matter perhaps
`.trim().split(/\s+/)

const RING = 4096
const MASK = RING - 1

/**
 * Simulated output text. A seeded ring of word indices is drawn once; each response starts at a seeded
 * offset and reads the ring from there, so producing a chunk is string concatenation, not sampling.
 * The first token of a response has no leading space; every later one does.
 */
export interface TextSource {
  /** Picks where a new response starts reading the ring. */
  origin(): number
  /** Tokens [from, from + n) of the response starting at `origin`, as one JSON string literal. */
  jsonChunk(origin: number, from: number, n: number): string
  /** The first `n` tokens of the response as plain text. */
  text(origin: number, n: number): string
}

export function createTextSource(rng: Rng): TextSource {
  const first = WORDS
  const later = WORDS.map((w) => ' ' + w)
  const ring = new Uint16Array(RING)
  for (let i = 0; i < RING; i++) ring[i] = rng.nextU32() % WORDS.length
  const word = (origin: number, i: number): string => (i === 0 ? first : later)[ring[(origin + i) & MASK]]
  // One-token chunks dominate; keep their JSON literals ready.
  const laterJson = later.map((w) => `"${w}"`)
  const firstJson = first.map((w) => `"${w}"`)

  return {
    origin: () => rng.nextU32() & MASK,
    jsonChunk(origin, from, n) {
      if (n === 1) return (from === 0 ? firstJson : laterJson)[ring[(origin + from) & MASK]]
      let s = '"'
      for (let i = from; i < from + n; i++) s += word(origin, i)
      return s + '"'
    },
    text(origin, n) {
      let s = ''
      for (let i = 0; i < n; i++) s += word(origin, i)
      return s
    }
  }
}
