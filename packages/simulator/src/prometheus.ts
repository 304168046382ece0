/**
 * Just enough of the Prometheus text exposition format (0.0.4) for the simulator's /metrics: written
 * by hand, so an observation is a bucket increment and nothing is allocated per token.
 */

/** A cumulative histogram with fixed upper bounds (seconds or counts), Prometheus style. */
export class Histogram {
  readonly bounds: Float64Array
  /** Non-cumulative counts per bucket; the last one is +Inf. */
  private readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i] > bounds[i - 1])) throw new RangeError(`histogram bounds must increase, got ${bounds[i - 1]} then ${bounds[i]}`)
    }
    this.bounds = Float64Array.from(bounds)
    this.counts = new Float64Array(bounds.length + 1)
  }

  /** Adds `n` observations of `value` (n > 1: a group of tokens that shared one gap). */
  observe(value: number, n = 1): void {
    const b = this.bounds
    let i = 0
    // Linear from the bottom: most observations (token gaps) fall in the first few buckets.
    while (i < b.length && value > b[i]) i++
    this.counts[i] += n
    this.sum += value * n
    this.count += n
  }

  /** `name_bucket`, `name_sum` and `name_count` lines with `labels` (already rendered, without braces). */
  render(name: string, labels: string): string {
    let s = ''
    let acc = 0
    const sep = labels === '' ? '' : ','
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]
      s += `${name}_bucket{${labels}${sep}le="${formatLe(this.bounds[i])}"} ${acc}\n`
    }
    acc += this.counts[this.bounds.length]
    s += `${name}_bucket{${labels}${sep}le="+Inf"} ${acc}\n`
    s += `${name}_sum${braces(labels)} ${formatValue(this.sum)}\n`
    s += `${name}_count${braces(labels)} ${this.count}\n`
    return s
  }
}

function formatLe(v: number): string {
  return Number.isInteger(v) ? `${v}.0` : String(v)
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

function braces(labels: string): string {
  return labels === '' ? '' : `{${labels}}`
}

/** A label value escaped as the format wants it (backslash, quote, newline). */
export function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** `# HELP` and `# TYPE` lines. */
export function header(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`
}

/** One sample line. */
export function sample(name: string, labels: string, value: number): string {
  return `${name}${braces(labels)} ${formatValue(value)}\n`
}

/** vLLM's 1-2-5 series up to `max` (its buckets for token-count histograms). */
export function oneTwoFive(max: number): number[] {
  const out: number[] = []
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      const v = m * exp
      if (v > max) return out
      out.push(v)
    }
  }
}
