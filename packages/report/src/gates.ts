import type { Report } from './report.ts'

export interface GateOptions {
  /** Largest acceptable failed / sent. */
  maxErrorRate: number
  failOnSlo: boolean
}

export interface GateVerdict {
  errorRateOk: boolean
  sloOk: boolean
  /** One line per failed gate, for people. */
  messages: string[]
}

/**
 * The pass/fail decisions a CI pipeline acts on. A run where requests failed is not green by
 * default (--max-error-rate 0): tools that exit 0 with failed requests are a known complaint.
 */
export function evaluateGates (r: Report, o: GateOptions): GateVerdict {
  const messages: string[] = []
  const q = r.requests
  const errorRateOk = q.error_rate <= o.maxErrorRate && !(q.sent === 0 && q.scheduled > 0)
  if (!errorRateOk) {
    messages.push(q.sent === 0
      ? 'gate failed: no request was sent'
      : `gate failed: error rate ${(q.error_rate * 100).toFixed(2)}% > --max-error-rate ${(o.maxErrorRate * 100).toFixed(2)}% (${q.failed} of ${q.sent} failed)`)
  }
  let sloOk = true
  if (o.failOnSlo) {
    if (r.slo_gate === null) {
      sloOk = false
      messages.push('gate failed: --fail-on-slo needs --slo')
    } else if (!r.slo_gate.pass) {
      sloOk = false
      messages.push(`gate failed: SLO ${r.slo_gate.percentile}: ${r.slo_gate.reasons.join('; ')}`)
    }
  }
  return { errorRateOk, sloOk, messages }
}
