import { WorkloadSpecError } from './errors.ts'

/**
 * A seeded, splittable pseudo-random generator. Every random choice in a run (arrival gaps, lengths,
 * prompt text, simulator timings) is drawn from one of these so that a plan seed reproduces the run.
 */
export interface Rng {
  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number
  /** Uniform integer in [0, 2^32). */
  nextU32(): number
  /**
   * An independent child stream named `label`. It depends only on this stream's seed and the label,
   * never on how much of this stream has been consumed, so `createRng(S).split(peerId)` is the same
   * stream on every host. A label containing '/' splits once per component.
   */
  split(label: string | number): Rng
  /**
   * The stream's name: the root seed followed by `/label` for each split. `createRng(rng.seed)`
   * reproduces the stream (seeds are read as '/'-separated paths), which lets a report name the
   * exact stream a peer used.
   */
  readonly seed: string
}

const MASK64 = (1n << 64n) - 1n
const GOLDEN = 0x9e3779b97f4a7c15n
const FNV_OFFSET = 0xcbf29ce484222325n
const FNV_PRIME = 0x100000001b3n
const encoder = new TextEncoder()

/** SplitMix64's finaliser (Stafford's variant 13): a bijective avalanche on 64 bits. */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64
  return z ^ (z >> 31n)
}

/** FNV-1a over UTF-8, then mixed: FNV alone has weak high bits for short inputs. */
function hashLabel(text: string): bigint {
  let h = FNV_OFFSET
  for (const byte of encoder.encode(text)) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK64
  return mix64(h ^ GOLDEN)
}

const ROOT_KEY = 0x243f6a8885a308d3n // any constant; digits of pi, so nothing up the sleeve

function childKey(parent: bigint, label: string): bigint {
  // Multiplying by an odd constant before the xor keeps split(a).split(b) != split(b).split(a).
  return mix64(((parent * GOLDEN) & MASK64) ^ hashLabel(label))
}

function canonicalSeed(seed: number | bigint | string): string {
  if (typeof seed === 'string') return seed
  if (typeof seed === 'bigint') return seed.toString()
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new WorkloadSpecError(`seed: must be a finite number, a bigint or a string, got ${String(seed)}`)
  }
  return String(seed)
}

/**
 * Creates a generator from a seed. Numbers, bigints and strings with the same decimal spelling are
 * the same seed (42, 42n and '42'), so a seed survives a round trip through JSON or a command line.
 */
export function createRng(seed: number | bigint | string): Rng {
  const text = canonicalSeed(seed)
  let key = ROOT_KEY
  for (const part of text.split('/')) key = childKey(key, part)
  return new Xoshiro128(text, key)
}

/**
 * xoshiro128** (Blackman & Vigna): 128-bit state, 32-bit outputs, all in Math.imul-friendly 32-bit
 * arithmetic, which is what V8 does fast. Seeded through SplitMix64 from the 64-bit key, as its
 * authors recommend, so nearby keys give unrelated states.
 */
class Xoshiro128 implements Rng {
  readonly seed: string
  readonly #key: bigint
  #s0: number
  #s1: number
  #s2: number
  #s3: number

  constructor(seed: string, key: bigint, state?: readonly [number, number, number, number]) {
    this.seed = seed
    this.#key = key
    const a = mix64((key + GOLDEN) & MASK64)
    const b = mix64((key + 2n * GOLDEN) & MASK64)
    this.#s0 = state === undefined ? Number(a & 0xffffffffn) | 0 : state[0] | 0
    this.#s1 = state === undefined ? Number(a >> 32n) | 0 : state[1] | 0
    this.#s2 = state === undefined ? Number(b & 0xffffffffn) | 0 : state[2] | 0
    this.#s3 = state === undefined ? Number(b >> 32n) | 0 : state[3] | 0
    // The all-zero state is a fixed point; SplitMix makes it practically impossible, but be sure.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1
  }

  nextU32(): number {
    const s0 = this.#s0
    const s1 = this.#s1
    const s2 = this.#s2
    const s3 = this.#s3
    const m = Math.imul(s1, 5)
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0
    const t = s1 << 9
    const n2 = s2 ^ s0
    const n3 = s3 ^ s1
    this.#s1 = s1 ^ n2
    this.#s0 = s0 ^ n3
    this.#s2 = n2 ^ t
    this.#s3 = (n3 << 11) | (n3 >>> 21)
    return result
  }

  next(): number {
    const hi = this.nextU32() >>> 5 // 27 bits
    const lo = this.nextU32() >>> 6 // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992
  }

  split(label: string | number): Rng {
    const text = typeof label === 'number' ? canonicalSeed(label) : label
    let key = this.#key
    for (const part of text.split('/')) key = childKey(key, part)
    return new Xoshiro128(`${this.seed}/${text}`, key)
  }
}

/** Test hook: a generator started from a raw xoshiro128** state, to check against reference vectors. */
export function xoshiro128FromState(state: readonly [number, number, number, number]): Rng {
  return new Xoshiro128('raw', 0n, state)
}
