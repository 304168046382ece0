import { createLengthModel } from '@loadmesh/workload-models'
import type { ClassModel, LengthFit, SampledRequest, WorkloadModel } from '@loadmesh/workload-models'
import { tableFromCdf, tiltTable } from './long-tail.ts'
import type { LongTail, TiltedTable } from './long-tail.ts'

/** A model whose rare classes and length tails are drawn more often, and the weight of each sample. */
export interface TiltedModel {
  /** Sample this one, with inputScale and outputScale 1 (the scales are already applied to its tables). */
  model: WorkloadModel
  /** p_production / p_sampled of one sample, the whole history of its session included. */
  weigh(s: SampledRequest): number
  /** Production and sampled probability of the rare outcomes, for the report's config notes. */
  summary: { rare_class_mass: number; sampled_rare_class_mass: number }
}

/** Sessions remembered for their running weight (oldest forgotten first). */
const MAX_SESSIONS = 200_000

function scaled(v: number, s: number): number {
  if (s === 1) return v
  const x = Math.round(v * s)
  return v >= 1 && x < 1 ? 1 : x
}

/**
 * Importance sampling through the model's own sampler: every length fit becomes an empirical table
 * over the scaled lengths with its tails (P(X ≤ v) or P(X ≥ v) below the threshold) drawn `factor`
 * times as often, and rare classes (weight below the threshold) likewise. A sample's weight is the
 * product of p/q over the draws that made it: class, input and output of its first turn, then each
 * later turn's output (and input, when turns draw fresh inputs). Accumulated inputs and think times
 * are not tilted (their ratio is 1).
 */
export function tiltModel(model: WorkloadModel, lt: LongTail, inputScale: number, outputScale: number): TiltedModel {
  const classTable = tiltTable(model.classes.map((_, i) => i), model.classes.map((c) => c.weight), lt, 'values')
  const ratios = new Map<LengthFit, Map<number, number>>()
  const tilted = new Map<LengthFit, LengthFit>()
  const tilt = (fit: LengthFit, scale: number, where: string): LengthFit => {
    let t = tilted.get(fit)
    if (t !== undefined) return t
    const table = scaledTable(fit, scale, where)
    const tt: TiltedTable = tiltTable(table.values, table.probs, lt, 'tails')
    t = { ...fit, chosen: { kind: 'empirical', values: [...tt.values], counts: Array.from(tt.q) } }
    const byValue = new Map<number, number>()
    for (let i = 0; i < tt.values.length; i++) byValue.set(tt.values[i], tt.ratio[i])
    ratios.set(t, byValue)
    tilted.set(fit, t)
    return t
  }
  const input = tilt(model.input, inputScale, 'model input')
  const output = tilt(model.output, outputScale, 'model output')
  const classes: ClassModel[] = model.classes.map((c, i) => ({
    ...c,
    weight: classTable.q[i],
    input: c.input === null ? null : tilt(c.input, inputScale, `class ${c.key} input`),
    output: c.output === null ? null : tilt(c.output, outputScale, `class ${c.key} output`)
  }))
  let sessions = model.sessions
  if (sessions !== null && sessions.growthTokens !== null && inputScale !== 1) {
    // Growth is not tilted, only scaled, as the sampler's inputScale would have done.
    const g = scaledTable(sessions.growthTokens, inputScale, 'sessions growth')
    sessions = { ...sessions, growthTokens: { ...sessions.growthTokens, chosen: { kind: 'empirical', values: g.values, counts: Array.from(g.probs) } } }
  }
  const tiltedModel: WorkloadModel = { ...model, input, output, classes, sessions }
  const classIndex = new Map<string, number>()
  model.classes.forEach((c, i) => { classIndex.set(classKey(c.endpoint, c.labels), i) })
  const ratioAt = (fit: LengthFit, v: number): number => ratios.get(fit)?.get(v) ?? 1
  const sessionWeight = new Map<string, number>()
  const independent = sessions?.contextMode === 'independent'
  return {
    model: tiltedModel,
    summary: { rare_class_mass: classTable.rareMass, sampled_rare_class_mass: classTable.sampledRareMass },
    weigh(s: SampledRequest): number {
      const i = classIndex.get(classKey(s.endpoint, s.classes))
      const cls = i === undefined ? null : classes[i]
      const inFit = cls?.input ?? input
      const outFit = cls?.output ?? output
      const outRatio = ratioAt(outFit, s.outputTokens)
      let w: number
      if (s.sessionId === null || s.turn === null || s.turn <= 1) {
        w = (i === undefined ? 1 : classTable.ratio[i]) * ratioAt(inFit, s.inputTokens) * outRatio
      } else {
        w = (sessionWeight.get(s.sessionId) ?? 1) * (independent ? ratioAt(inFit, s.inputTokens) : 1) * outRatio
      }
      if (s.sessionId !== null) {
        sessionWeight.delete(s.sessionId)
        sessionWeight.set(s.sessionId, w)
        if (sessionWeight.size > MAX_SESSIONS) sessionWeight.delete(sessionWeight.keys().next().value as string)
      }
      return w * s.weight
    }
  }
}

function classKey(endpoint: string, labels: Record<string, string>): string {
  return endpoint + '|' + Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join('|')
}

/** The fit's probabilities over its (scaled) lengths, ascending, equal scaled lengths merged. */
function scaledTable(fit: LengthFit, scale: number, where: string): { values: number[]; probs: Float64Array } {
  const d = fit.chosen
  let values: number[]
  let probs: ArrayLike<number>
  if (d.kind === 'empirical') {
    values = d.values
    probs = d.counts
  } else {
    const m = createLengthModel(d, where)
    const t = tableFromCdf(m.min, m.max, (k) => m.cdf(k), where)
    values = t.values
    probs = t.probs
  }
  const outV: number[] = []
  const outP: number[] = []
  for (let i = 0; i < values.length; i++) {
    const v = scaled(values[i], scale)
    if (outV.length > 0 && outV[outV.length - 1] === v) outP[outP.length - 1] += probs[i]
    else {
      outV.push(v)
      outP.push(probs[i])
    }
  }
  return { values: outV, probs: Float64Array.from(outP) }
}
