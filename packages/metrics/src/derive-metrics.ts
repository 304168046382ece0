import type { RequestResult } from './request-result.ts'

/**
 * The metric values of one request, in milliseconds (output_tokens in tokens); null where the metric
 * is not defined for this request. Pure, so the rules can be tested on hand-made results:
 *
 * - schedule_lag = sentAt − intendedAt, for every request that was sent (ok or failed).
 * - ttft = firstTokenAt − intendedAt; ttft_service = firstTokenAt − sentAt;
 *   ttft_content = firstContentAt − intendedAt (first non-reasoning token). Ok requests, finite times.
 * - itl = every gap in `itls` (ok requests; non-finite gaps are ignored).
 * - tpot = (lastTokenAt − firstTokenAt) / (outputTokens − 1), ok streamed requests with outputTokens > 1.
 * - e2e = t_last − intendedAt, e2e_service = t_last − sentAt, t_last = lastTokenAt when finite, else
 *   endAt (non-streamed responses). Ok requests only.
 * - output_tokens = outputTokens (ok requests).
 *
 * Failed requests contribute only schedule_lag: their partial latencies would flatter the
 * distributions, so they are counted as failures (and SLO misses) instead.
 */
export interface DerivedMetrics {
  schedule_lag: number | null
  ttft: number | null
  ttft_content: number | null
  ttft_service: number | null
  itl: readonly number[]
  tpot: number | null
  e2e: number | null
  e2e_service: number | null
  output_tokens: number | null
}

const NO_GAPS: readonly number[] = Object.freeze([])

export function deriveMetrics(r: RequestResult): DerivedMetrics {
  const fin = Number.isFinite
  const sent = fin(r.sentAt)
  const scheduleLag = sent && fin(r.intendedAt) ? r.sentAt - r.intendedAt : null
  if (!r.ok) {
    return {
      schedule_lag: scheduleLag,
      ttft: null,
      ttft_content: null,
      ttft_service: null,
      itl: NO_GAPS,
      tpot: null,
      e2e: null,
      e2e_service: null,
      output_tokens: null
    }
  }
  const first = fin(r.firstTokenAt)
  const tLast = fin(r.lastTokenAt) ? r.lastTokenAt : r.endAt
  const n = r.outputTokens
  return {
    schedule_lag: scheduleLag,
    ttft: first ? r.firstTokenAt - r.intendedAt : null,
    ttft_content: fin(r.firstContentAt) ? r.firstContentAt - r.intendedAt : null,
    ttft_service: first && sent ? r.firstTokenAt - r.sentAt : null,
    itl: r.itls.every(fin) ? r.itls : r.itls.filter(fin),
    tpot:
      r.streamed && n > 1 && first && fin(r.lastTokenAt) ? (r.lastTokenAt - r.firstTokenAt) / (n - 1) : null,
    e2e: fin(tLast) ? tLast - r.intendedAt : null,
    e2e_service: fin(tLast) && sent ? tLast - r.sentAt : null,
    output_tokens: fin(n) ? n : null
  }
}
