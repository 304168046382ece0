import type { Rng } from '@loadmesh/workload'
import { sampleExponential, sampleGamma } from '@loadmesh/workload'
import type { ClassModel, GapProcess, LengthFit, ModelOverrides, ModelSampler, SampledRequest, WorkloadModel } from './types.ts'
import { WorkloadModelOptionError } from './errors.ts'
import { createLengthModel } from './length-model.ts'
import { buildProfile, timeAtIntensity } from './fit-arrivals.ts'
import type { Profile } from './fit-arrivals.ts'

function scaleOf (name: string, v: number | undefined): number {
  if (v === undefined) return 1
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new WorkloadModelOptionError(`${name} must be a positive number, got ${String(v)}`)
  return v
}

/** Gaps of the unit-rate process in operational time. */
function gapSource (g: GapProcess, rng: Rng): () => number {
  switch (g.kind) {
    case 'poisson': return () => sampleExponential(rng)
    case 'gamma': return () => sampleGamma(rng, g.shape) / g.shape
    case 'mmpp2': {
      const pi0 = g.switchRates[1] / (g.switchRates[0] + g.switchRates[1])
      let state = rng.next() < pi0 ? 0 : 1
      return () => {
        // Competing exponentials: the next arrival or the next state switch, whichever comes first.
        let t = 0
        for (;;) {
          const rate = g.rates[state]
          const sw = g.switchRates[state]
          t += sampleExponential(rng) / (rate + sw)
          if (rng.next() * (rate + sw) < rate) return t
          state = 1 - state
        }
      }
    }
  }
}

/** Position u in operational time → ms since start, cycling through the profile. */
function cyclicTime (p: Profile, u: number): number {
  const cycles = Math.floor(u / p.total)
  return cycles * p.periodMs + timeAtIntensity(p, u - cycles * p.total)
}

function scaled (v: number, s: number): number {
  if (s === 1) return v
  const x = Math.round(v * s)
  return v >= 1 && x < 1 ? 1 : x
}

interface PendingTurn { atMs: number; seq: number; session: SessionState; turn: number }
interface SessionState { id: string; cls: ClassModel; turns: number; prevIn: number; prevOut: number }

/** Binary min-heap on (atMs, seq): turns due at the same time come out in the order they were scheduled. */
class TurnQueue {
  readonly #items: PendingTurn[] = []
  get size (): number { return this.#items.length }
  peek (): PendingTurn | undefined { return this.#items[0] }
  #less (a: PendingTurn, b: PendingTurn): boolean { return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq) }
  push (x: PendingTurn): void {
    const h = this.#items
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(h[i], h[parent])) break
      ;[h[i], h[parent]] = [h[parent], h[i]]
      i = parent
    }
  }
  pop (): PendingTurn {
    const h = this.#items
    const top = h[0]
    const last = h.pop() as PendingTurn
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.#less(h[l], h[m])) m = l
        if (r < h.length && this.#less(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

/**
 * Samples requests from a model. Arrivals: the gap process runs in operational time, which maps to
 * clock time through the per-minute profile (cycled), so every minute gets its profile's rate in
 * expectation; rateScale multiplies every minute's rate. A class is drawn per arrival by weight,
 * and lengths from the class's fits (or the model's overall ones). With sessions, arrivals start
 * sessions; each session draws its number of turns, and turn k + 1 follows turn k after a think
 * time, its input being the conversation so far plus new tokens (accumulate mode) or a fresh draw.
 * Independent random streams (split from `rng`) for arrivals, classes, lengths and sessions keep
 * one aspect's numbers unchanged when another is overridden.
 */
export function createModelSampler (model: WorkloadModel, rng: Rng, overrides: ModelOverrides = {}): ModelSampler {
  const rateScale = scaleOf('rateScale', overrides.rateScale)
  const inputScale = scaleOf('inputScale', overrides.inputScale)
  const outputScale = scaleOf('outputScale', overrides.outputScale)
  const profile = buildProfile(model.arrivals.ratePerMinute, model.arrivals.periodMs)
  const nextGap = gapSource(model.arrivals.process.chosen, rng.split('arrivals'))
  const classRng = rng.split('classes')
  const streamRng = rng.split('stream')
  const inputRng = rng.split('input')
  const outputRng = rng.split('output')
  const sessionRng = rng.split('sessions')
  const classes = model.classes
  const cumulative: number[] = []
  let acc = 0
  for (const c of classes) cumulative.push((acc += c.weight))
  const samplers = new Map<LengthFit, () => number>()
  const lengthSampler = (fit: LengthFit, r: Rng, where: string): (() => number) => {
    let s = samplers.get(fit)
    if (s === undefined) {
      s = createLengthModel(fit.chosen, where).sampler(r)
      samplers.set(fit, s)
    }
    return s
  }
  const inputOf = (c: ClassModel): number => scaled(lengthSampler(c.input ?? model.input, inputRng, `${c.key} input`)(), inputScale)
  const outputOf = (c: ClassModel): number => scaled(lengthSampler(c.output ?? model.output, outputRng, `${c.key} output`)(), outputScale)
  const pickClass = (): ClassModel => {
    const u = classRng.next() * acc
    let i = 0
    while (i < cumulative.length - 1 && cumulative[i] <= u) i++
    return classes[i]
  }
  const streamOf = (c: ClassModel): boolean | null => (c.streamRatio === null ? null : streamRng.next() < c.streamRatio)

  let u = 0
  let nextArrival = Number.NaN
  const advanceArrival = (): void => {
    u += nextGap()
    nextArrival = cyclicTime(profile, u / rateScale)
  }
  advanceArrival()
  let lastMs = 0
  const emit = (atMs: number, c: ClassModel, inputTokens: number, outputTokens: number, sessionId: string | null, turn: number | null): SampledRequest => {
    const gapMs = atMs - lastMs
    lastMs = atMs
    return { gapMs, endpoint: c.endpoint, stream: streamOf(c), inputTokens, outputTokens, classes: { ...c.labels }, sessionId, turn, weight: 1 }
  }

  const sessions = model.sessions
  if (sessions === null) {
    return {
      next (): SampledRequest {
        const at = nextArrival
        advanceArrival()
        const c = pickClass()
        return emit(at, c, inputOf(c), outputOf(c), null, null)
      }
    }
  }
  const turnsOf = lengthSampler(sessions.turns, sessionRng, 'sessions.turns')
  const thinkOf = lengthSampler(sessions.thinkTimeMs, sessionRng, 'sessions.thinkTimeMs')
  const growthOf = sessions.growthTokens === null ? null : createLengthModel(sessions.growthTokens.chosen, 'sessions.growthTokens').sampler(inputRng)
  const queue = new TurnQueue()
  let seq = 0
  let sessionCount = 0
  const schedule = (s: SessionState, turn: number, after: number): void => {
    if (turn <= s.turns) queue.push({ atMs: after + thinkOf(), seq: seq++, session: s, turn })
  }
  return {
    next (): SampledRequest {
      const head = queue.peek()
      if (head !== undefined && head.atMs < nextArrival) {
        const { session: s, turn, atMs } = queue.pop()
        const input = sessions.contextMode === 'accumulate' && growthOf !== null
          ? s.prevIn + s.prevOut + scaled(growthOf(), inputScale)
          : inputOf(s.cls)
        const output = outputOf(s.cls)
        s.prevIn = input
        s.prevOut = output
        schedule(s, turn + 1, atMs)
        return emit(atMs, s.cls, input, output, s.id, turn)
      }
      const at = nextArrival
      advanceArrival()
      const cls = pickClass()
      const s: SessionState = { id: `s${sessionCount++}`, cls, turns: Math.max(1, turnsOf()), prevIn: 0, prevOut: 0 }
      const input = inputOf(cls)
      const output = outputOf(cls)
      s.prevIn = input
      s.prevOut = output
      schedule(s, 2, at)
      return emit(at, cls, input, output, s.id, 1)
    }
  }
}
