/**
 * Draws the figures of docs/workload.md's worked example: the Azure LLM inference trace 2023
 * (Azure Public Dataset, CC-BY 4.0; Patel et al., "Splitwise", ISCA 2024) against the model
 * fitted to it. Hand-written SVG, no dependencies. Prints the numbers it plots.
 *
 *   cd /work/main && pnpm exec node packages/workload-models/scripts/plot-azure.ts [TRACE] [OUT_DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRng } from '@loadmesh/workload'
import { readWorkloadLog, fitWorkloadModel, createModelSampler, createLengthModel } from '../src/index.ts'
import type { LengthDistribution, LengthFit } from '../src/index.ts'
import { groupValues } from '../src/numeric.ts'
import { twoSampleKs, empiricalCdf } from '../src/goodness-of-fit.ts'
import { gapProcessCdf, buildProfile, intensityAt } from '../src/fit-arrivals.ts'

const here = dirname(fileURLToPath(import.meta.url))
const trace = process.argv[2] ?? fileURLToPath(new URL('../../../test/fixtures/azure-llm-2023-conv.csv', import.meta.url))
const outDir = resolve(process.argv[3] ?? join(here, '../../../docs/img'))
const SEED = 20231116
const N = 100_000

interface Series { name: string; points: Array<[number, number]>; color: string; dash?: string; width?: number; step?: boolean }
interface Plot { title: string; xLabel: string; yLabel: string; xLog?: boolean; xMin: number; xMax: number; yMin: number; yMax: number; series: Series[]; note?: string }

const W = 720
const H = 420
const M = { left: 64, right: 20, top: 40, bottom: 84 }

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function niceTicks (lo: number, hi: number, target = 6): number[] {
  const raw = (hi - lo) / target
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

function fmt (v: number): string {
  if (v >= 10_000) return `${v / 1000}k`
  return String(Number(v.toPrecision(4)))
}

function svg (p: Plot): string {
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const fx = (x: number): number => {
    const t = p.xLog === true ? (Math.log10(x) - Math.log10(p.xMin)) / (Math.log10(p.xMax) - Math.log10(p.xMin)) : (x - p.xMin) / (p.xMax - p.xMin)
    return M.left + t * pw
  }
  const fy = (y: number): number => M.top + (1 - (y - p.yMin) / (p.yMax - p.yMin)) * ph
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`)
  const xticks = p.xLog === true
    ? Array.from({ length: Math.floor(Math.log10(p.xMax)) - Math.ceil(Math.log10(p.xMin)) + 1 }, (_, i) => 10 ** (Math.ceil(Math.log10(p.xMin)) + i))
    : niceTicks(p.xMin, p.xMax)
  for (const t of xticks) {
    parts.push(`<line x1="${fx(t).toFixed(1)}" y1="${M.top}" x2="${fx(t).toFixed(1)}" y2="${M.top + ph}" stroke="#e5e5e5"/>`)
    parts.push(`<text x="${fx(t).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`)
  }
  for (const t of niceTicks(p.yMin, p.yMax, 5)) {
    parts.push(`<line x1="${M.left}" y1="${fy(t).toFixed(1)}" x2="${M.left + pw}" y2="${fy(t).toFixed(1)}" stroke="#e5e5e5"/>`)
    parts.push(`<text x="${M.left - 6}" y="${(fy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`)
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`)
  parts.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 34}" text-anchor="middle">${esc(p.xLabel)}</text>`)
  parts.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`)
  parts.push(`<clipPath id="plot"><rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}"/></clipPath>`)
  for (const s of p.series) {
    const pts: string[] = []
    let prevY: number | null = null
    for (const [x, y] of s.points) {
      if (p.xLog === true && x <= 0) continue
      if (s.step === true && prevY !== null) pts.push(`${fx(x).toFixed(1)},${fy(prevY).toFixed(1)}`)
      pts.push(`${fx(x).toFixed(1)},${fy(y).toFixed(1)}`)
      prevY = y
    }
    parts.push(`<polyline clip-path="url(#plot)" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.8}"${s.dash !== undefined ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.join(' ')}"/>`)
  }
  // Legend under the plot, wrapping onto a second row.
  let lx = M.left
  let ly = H - 26
  for (const s of p.series) {
    const width = 44 + s.name.length * 6.6
    if (lx > M.left && lx + width > W - M.right) {
      lx = M.left
      ly += 17
    }
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2.5"${s.dash !== undefined ? ` stroke-dasharray="${s.dash}"` : ''}/>`)
    parts.push(`<text x="${lx + 27}" y="${ly}">${esc(s.name)}</text>`)
    lx += width
  }
  if (p.note !== undefined) parts.push(`<text x="${W - M.right}" y="${M.top - 6}" text-anchor="end" font-size="11" fill="#555">${esc(p.note)}</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

/** Points of a CDF at log-spaced lengths (and at every integer while they are few). */
function cdfPoints (cdf: (k: number) => number, lo: number, hi: number): Array<[number, number]> {
  const xs = new Set<number>()
  for (let k = lo; k <= Math.min(hi, 64); k++) xs.add(k)
  for (let i = 0; i <= 400; i++) xs.add(Math.round(lo * (hi / lo) ** (i / 400)))
  return [...xs].sort((a, b) => a - b).map((k) => [k, cdf(k)])
}

function candidate (fit: LengthFit, test: (d: LengthDistribution) => boolean): { d: LengthDistribution; cv: number } | null {
  let best: { d: LengthDistribution; cv: number } | null = null
  for (const c of fit.candidates) {
    if (!test(c.distribution)) continue
    const cv = c.cvKs ?? c.ks
    if (best === null || cv < best.cv) best = { d: c.distribution, cv }
  }
  return best
}

function label (d: LengthDistribution): string {
  return d.kind.endsWith('mixture') ? `${d.kind}(${(d as { components: unknown[] }).components.length})` : d.kind
}

const log = await readWorkloadLog(trace)
const model = fitWorkloadModel(log, { onProgress: (m) => process.stderr.write(m + '\n') })
const sampler = createModelSampler(model, createRng(SEED))
const sIn: number[] = []
const sOut: number[] = []
const sAt: number[] = []
let t = 0
for (let i = 0; i < N; i++) {
  const r = sampler.next()
  t += r.gapMs
  sIn.push(r.inputTokens)
  sOut.push(r.outputTokens)
  sAt.push(t)
}
const realIn = groupValues(log.records.map((r) => r.inputTokens))
const realOut = groupValues(log.records.map((r) => r.outputTokens))
const ksIn = twoSampleKs(groupValues(sIn), realIn)
const ksOut = twoSampleKs(groupValues(sOut), realOut)
mkdirSync(outDir, { recursive: true })

function lengthFigure (file: string, what: string, fit: LengthFit, real: typeof realIn, sampled: number[], ks: number, parametric: Array<[string, (d: LengthDistribution) => boolean, string]>): void {
  const hi = real.values[real.values.length - 1]
  const lo = Math.max(1, real.values[0])
  const series: Series[] = [{ name: 'trace', points: cdfPoints(empiricalCdf(real), lo, hi), color: '#111', width: 3, step: true }]
  for (const [, test, color] of parametric) {
    const c = candidate(fit, test)
    if (c === null) continue
    series.push({ name: `${label(c.d)} (cv-KS ${c.cv.toFixed(3)})`, points: cdfPoints(createLengthModel(c.d).cdf, lo, hi), color, dash: '6 3' })
  }
  series.push({ name: `${N / 1000}k sampled from the model (KS ${ks.toFixed(4)})`, points: cdfPoints(empiricalCdf(groupValues(sampled)), lo, hi), color: '#e4572e', width: 1.4, step: true })
  writeFileSync(join(outDir, file), svg({
    title: `Azure conversation trace 2023: ${what}, CDF`,
    xLabel: `${what} (tokens, log scale)`,
    yLabel: 'P(length ≤ x)',
    xLog: true,
    xMin: lo,
    xMax: hi * 1.05,
    yMin: 0,
    yMax: 1,
    series,
    note: `chosen: ${label(fit.chosen)}; ${real.n} requests`
  }))
}

lengthFigure('workload-azure-input-cdf.svg', 'input length', model.input, realIn, sIn, ksIn, [
  ['lognormal', (d) => d.kind === 'lognormal', '#4c72b0'],
  ['best log-normal mixture', (d) => d.kind === 'lognormal-mixture', '#55a868']
])
lengthFigure('workload-azure-output-cdf.svg', 'output length', model.output, realOut, sOut, ksOut, [
  ['negbin', (d) => d.kind === 'negbin', '#4c72b0'],
  ['best negbin mixture', (d) => d.kind === 'negbin-mixture', '#8172b2'],
  ['best log-normal mixture', (d) => d.kind === 'lognormal-mixture', '#55a868']
])

// Histogram of input lengths on log-spaced bins: where the trace's spikes are.
{
  const bins = 60
  const lo = 1
  const hi = realIn.values[realIn.values.length - 1] + 1
  const edge = (i: number): number => lo * (hi / lo) ** (i / bins)
  const density = (cdf: (k: number) => number): Array<[number, number]> => Array.from({ length: bins }, (_, i) => {
    const a = edge(i)
    const b = edge(i + 1)
    return [Math.sqrt(a * b), (cdf(Math.floor(b)) - cdf(Math.floor(a))) / Math.log10(b / a)]
  })
  const real = density(empiricalCdf(realIn))
  const mix = candidate(model.input, (d) => d.kind === 'lognormal-mixture')
  const series: Series[] = [{ name: 'trace', points: real, color: '#111', width: 2.6 }]
  if (mix !== null) series.push({ name: `${label(mix.d)}`, points: density(createLengthModel(mix.d).cdf), color: '#55a868', dash: '6 3' })
  const ln = candidate(model.input, (d) => d.kind === 'lognormal')
  if (ln !== null) series.push({ name: 'lognormal', points: density(createLengthModel(ln.d).cdf), color: '#4c72b0', dash: '6 3' })
  series.push({ name: 'sampled from the model', points: density(empiricalCdf(groupValues(sIn))), color: '#e4572e', width: 1.4 })
  writeFileSync(join(outDir, 'workload-azure-input-hist.svg'), svg({
    title: 'Azure conversation trace 2023: input length density',
    xLabel: 'input length (tokens, log scale)',
    yLabel: 'density per decade',
    xLog: true,
    xMin: 1,
    xMax: hi,
    yMin: 0,
    yMax: Math.max(...real.map((p) => p[1])) * 1.1,
    series
  }))
}

// Per-minute arrival rate: the trace against 100k sampled requests folded onto the profile.
let mare = 0
{
  const period = model.arrivals.periodMs
  const nb = model.arrivals.ratePerMinute.length
  const cycles = Math.floor(t / period)
  const counts = new Array<number>(nb).fill(0)
  for (const x of sAt) if (x < cycles * period) counts[Math.min(nb - 1, Math.floor((x % period) / 60_000))]++
  const real = new Array<number>(nb).fill(0)
  for (const r of log.records) real[Math.min(nb - 1, Math.floor(r.atMs / 60_000))]++
  for (let j = 0; j < nb; j++) mare += Math.abs(counts[j] / cycles - real[j]) / real[j] / nb
  // Per-minute rates (the last, partial minute scaled to a full one, as the profile does).
  const lastLen = (period - 60_000 * (nb - 1)) / 60_000
  const perMin = (c: number[], div: number): Array<[number, number]> => c.map((v, j) => [j, v / div / (j === nb - 1 ? lastLen : 1)])
  writeFileSync(join(outDir, 'workload-azure-rate.svg'), svg({
    title: 'Azure conversation trace 2023: arrivals per minute',
    xLabel: 'minute of the trace',
    yLabel: 'requests per minute',
    xMin: 0,
    xMax: nb,
    yMin: 0,
    yMax: 600,
    series: [
      { name: 'trace', points: perMin(real, 1).flatMap(([j, v]) => [[j, v], [j + 1, v]] as Array<[number, number]>), color: '#111', width: 2.6 },
      { name: `sampled, mean of ${cycles} cycles (MARE ${(mare * 100).toFixed(1)}%)`, points: perMin(counts, cycles).flatMap(([j, v]) => [[j, v], [j + 1, v]] as Array<[number, number]>), color: '#e4572e', width: 1.4 }
    ]
  }))
}

// Gaps after flattening the profile (unit mean), against the candidate gap processes.
{
  const profile = buildProfile(model.arrivals.ratePerMinute, model.arrivals.periodMs)
  const gaps: number[] = []
  for (let i = 1; i < log.records.length; i++) gaps.push(intensityAt(profile, log.records[i].atMs) - intensityAt(profile, log.records[i - 1].atMs))
  gaps.sort((a, b) => a - b)
  const pts: Array<[number, number]> = []
  for (let i = 0; i < gaps.length; i += 20) pts.push([gaps[i], (i + 1) / gaps.length])
  const xs = Array.from({ length: 200 }, (_, i) => 1e-3 * 1e4 ** (i / 199))
  const colors: Record<string, string> = { poisson: '#4c72b0', gamma: '#55a868', mmpp2: '#8172b2' }
  writeFileSync(join(outDir, 'workload-azure-gaps.svg'), svg({
    title: 'Azure conversation trace 2023: gaps with the rate profile flattened',
    xLabel: 'gap (in units of the mean gap, log scale)',
    yLabel: 'P(gap ≤ x)',
    xLog: true,
    xMin: 1e-3,
    xMax: 10,
    yMin: 0,
    yMax: 1,
    series: [
      { name: 'trace', points: pts, color: '#111', width: 3 },
      ...model.arrivals.process.candidates.map((c) => {
        const cdf = gapProcessCdf(c.distribution)
        return { name: `${c.distribution.kind} (KS ${c.ks.toFixed(4)})`, points: xs.map((x) => [x, cdf(x)] as [number, number]), color: colors[c.distribution.kind], dash: '6 3' }
      })
    ],
    note: `chosen: ${model.arrivals.process.chosen.kind}`
  }))
}

process.stdout.write(JSON.stringify({
  trace,
  records: log.records.length,
  sampled: N,
  seed: SEED,
  input: { chosen: label(model.input.chosen), ks: ksIn, reason: model.input.reason },
  output: { chosen: label(model.output.chosen), ks: ksOut, reason: model.output.reason },
  arrivals: { chosen: model.arrivals.process.chosen, reason: model.arrivals.process.reason, meanRatePerMin: model.arrivals.meanRatePerSec * 60, perMinuteMare: mare },
  figures: outDir
}, null, 2) + '\n')
