import { emptyResult } from '../src/index.ts'
import type { Histogram, RequestResult } from '../src/index.ts'

/** xorshift32: deterministic values for tests (the package has no Rng dependency). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

/** Non-zero buckets as [index, count] pairs: two histograms are equal when these are. */
export function buckets(h: Histogram): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i < h.countsArrayLength; i++) {
    const c = h.getCountAtIndex(i)
    if (c !== 0) out.push([i, c])
  }
  return out
}

/** Nearest-rank percentile of a sorted array (what HDR approximates). */
export function exactPercentile(sorted: readonly number[], p: number): number {
  // p in tenths makes the product an exact integer: 99.9/100*5000 is 4995.000000000001 in floating point.
  const rank = Math.max(1, Math.ceil((Math.round(p * 10) * sorted.length) / 1000))
  return sorted[rank - 1]
}

/**
 * An ok streamed result: intended at `at`, sent `lag` later, first token `ttft` after sending,
 * then `gaps` between content chunks; one token per chunk unless told otherwise.
 */
export function streamed(
  at: number,
  o: { lag?: number; ttft?: number; gaps?: number[]; tokens?: number; tail?: number } = {}
): RequestResult {
  const lag = o.lag ?? 0
  const gaps = o.gaps ?? [10, 10, 10]
  const sent = at + lag
  const first = sent + (o.ttft ?? 100)
  const last = first + gaps.reduce((a, b) => a + b, 0)
  return {
    ...emptyResult(at, '/v1/chat/completions', true),
    sentAt: sent,
    firstTokenAt: first,
    firstContentAt: first,
    lastTokenAt: last,
    endAt: last + (o.tail ?? 1),
    itls: gaps,
    contentChunks: gaps.length + 1,
    outputTokens: o.tokens ?? gaps.length + 1,
    outputTokensSource: 'usage',
    inputTokens: 50,
    ok: true
  }
}

/** A failed result: sent at `at + lag`, failed at `endAt`. */
export function failed(at: number, endAt: number, errorClass = 'http_503', lag = 0): RequestResult {
  return { ...emptyResult(at, '/v1/chat/completions', true), sentAt: at + lag, endAt, errorClass, ok: false }
}
