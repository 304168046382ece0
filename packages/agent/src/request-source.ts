import { readFileSync } from 'node:fs'
import type { Rng, LengthSpec } from '@loadmesh/workload'
import { MAX_PROMPT_TOKENS, createAdversarialGenerator, createLengthSampler, createPromptFactory, createRng } from '@loadmesh/workload'
import type { AdversarialGenerator } from '@loadmesh/workload'
import type { BreakdownDimension, BreakdownOptions, RequestLabels } from '@loadmesh/metrics'
import { isGenerative } from '@loadmesh/injector'
import type { Endpoint, RequestSpec } from '@loadmesh/injector'
import {
  LogFormatError, createModelSampler, keyUnitInterval, loadWorkloadModel, parseWorkloadLog, readWorkloadLog, recordShareKey, replaySchedule
} from '@loadmesh/workload-models'
import type { ModelSampler, ReplayItem, SampledRequest, WorkloadLog, WorkloadModel, WorkloadRecord } from '@loadmesh/workload-models'
import type { RunConfig, WorkloadSource } from './run-config.ts'
import { tableFromCdf, tiltTable } from './long-tail.ts'
import type { LongTail, TiltedTable } from './long-tail.ts'
import { tiltModel } from './long-tail-model.ts'
import type { TiltedModel } from './long-tail-model.ts'

/** A request to send and what to label its result with. */
export interface PlannedRequest {
  spec: RequestSpec
  labels: RequestLabels | undefined
}

/**
 * Arrivals that come from the workload itself (a replayed log, a model's arrival process), shaped
 * for runOpenLoop: `nextGapMs` draws the next arrival and returns the gap to it; `current` is the
 * request of the arrival last drawn. runOpenLoop fires (or drops) arrival k before it draws k + 1,
 * so `current` in `fire` is always the arrival being fired.
 */
export interface ArrivalPlan {
  nextGapMs(): number
  current(): PlannedRequest
}

/** An agent's segment of [0, 1) in the mesh (mesh-state's Share), for splitting a log's records. */
export interface SegmentShare {
  from: number
  to: number
  share: number
}

export interface ArrivalWindow {
  /** The part of the run this plan covers, ms after the run's start: [fromMs, toMs). The first gap counts from fromMs. */
  fromMs: number
  toMs: number
  /** Stream for the model's arrival process (a replay draws nothing). */
  rng: Rng
  /** This agent's segment: a replay keeps the records whose key hashes into it, a model scales its rate by it. Whole run when absent. */
  share?: SegmentShare | null
}

export interface RequestSource {
  /** True when arrivals come from the workload (replay, model) rather than from the run's arrival process. */
  readonly ownArrivals: boolean
  /** The next request, for arrivals of the run's own process and for closed loops. */
  next(): PlannedRequest
  /** The workload's arrivals over a window of the run; throws when the workload has none (synthetic). */
  arrivals(w: ArrivalWindow): ArrivalPlan
  /** What the run recorder should break results down by. */
  readonly breakdown: BreakdownOptions | undefined
}

/** A replay's log or a model, read and checked before a run starts. */
export type LoadedWorkload = { kind: 'replay'; log: WorkloadLog } | { kind: 'model'; model: WorkloadModel } | null

/** Reads the config's log or model (async; a bad file throws the reader's clear error). */
export async function loadWorkload(c: RunConfig): Promise<LoadedWorkload> {
  const w = c.workload
  if (w == null) return null
  if (w.kind === 'replay') return { kind: 'replay', log: await readWorkloadLog(w.log, w.format === null ? {} : { format: w.format }) }
  return { kind: 'model', model: loadWorkloadModel(w.model) }
}

/**
 * The same, blocking: for callers that cannot wait (a mesh run is created synchronously when its
 * plan arrives, seconds before T0). Reading the 19k-record Azure trace takes ~0.25 s.
 */
export function loadWorkloadSync(c: RunConfig): LoadedWorkload {
  const w = c.workload
  if (w == null) return null
  if (w.kind === 'replay') {
    let text: string
    try {
      text = readFileSync(w.log, 'utf8')
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new LogFormatError(w.log, [{ line: 0, field: null, message: e.code === 'ENOENT' ? 'no such file' : `cannot read: ${e.message}` }])
    }
    return { kind: 'replay', log: parseWorkloadLog(text, w.log, w.format === null ? {} : { format: w.format }) }
  }
  return { kind: 'model', model: loadWorkloadModel(w.model) }
}

/**
 * What a replay or model run amounts to, for a plan: how long it lasts when no duration is given
 * (a replay: its window at its speedup, just past the last record; a model: null, the run's
 * default) and its mean rate over that duration (the run's nominal `rate`).
 */
export function nominalWorkload(w: WorkloadSource, loaded: LoadedWorkload, durationMs: number | null): { durationMs: number | null; ratePerS: number; requests: number | null } {
  if (w.kind === 'model') {
    if (loaded?.kind !== 'model') throw new Error('nominalWorkload: the model is not loaded')
    // Requests per second of the log the model was fitted to (with sessions, the arrival process
    // starts sessions and the later turns come on top, so its own rate is lower).
    const src = loaded.model.source
    const perS = src.durationMs > 0 ? src.records / (src.durationMs / 1000) : loaded.model.arrivals.meanRatePerSec
    return { durationMs, ratePerS: perS * w.rate_scale, requests: null }
  }
  if (loaded?.kind !== 'replay') throw new Error('nominalWorkload: the log is not loaded')
  const records = loaded.log.records
  let d = durationMs
  if (d === null && !w.loop) {
    // The window's end is exclusive, as the run's is; without one, just past the last record
    // (runOpenLoop sends what is due strictly before the end).
    d = w.to_ms !== null
      ? (w.to_ms - w.from_ms) / w.speedup
      : Math.floor((records[records.length - 1].atMs - w.from_ms) / w.speedup) + 1
  }
  if (d === null) return { durationMs: null, ratePerS: 0, requests: null }
  let n = 0
  for (const _ of replaySchedule(loaded.log, { ...replayOptions(w), maxDurationMs: d })) n++
  return { durationMs: d, ratePerS: n / (d / 1000), requests: n }
}

/** A gap no run reaches: runOpenLoop stops scheduling once the next due time passes its end. */
const NEVER_MS = 1e12

/**
 * Turns a RunConfig (and its loaded log or model) into requests. `rng` is the run's (or, in a
 * mesh, the agent's) request stream; each aspect draws from its own split, so adding an endpoint
 * mix or adversarial inputs leaves the prompt lengths of the other requests unchanged.
 */
export function createRequestSource(c: RunConfig, rng: Rng, loaded: LoadedWorkload): RequestSource {
  const w = c.workload ?? null
  if ((w === null) !== (loaded === null) || (w !== null && loaded !== null && w.kind !== loaded.kind)) {
    throw new Error(`createRequestSource: the loaded workload (${loaded?.kind ?? 'none'}) does not match the config (${w?.kind ?? 'none'})`)
  }
  const prompts = createPromptFactory(rng.split('prompts'))
  const extraBody = c.ignore_eos ? { ignore_eos: true } : undefined
  const lt: LongTail | null = c.long_tail ?? null
  const streamRng = rng.split('stream')
  const ratio = c.stream_ratio ?? null
  const streamFor = (endpoint: Endpoint, logged: boolean | null | undefined): boolean => {
    if (!isGenerative(endpoint)) return false
    if (logged !== null && logged !== undefined) return logged
    return ratio === null ? c.stream : streamRng.next() < ratio
  }
  const adv = c.adversarial ?? null
  const advRng = rng.split('adversarial')
  let advGen: AdversarialGenerator | null = null
  if (adv !== null) {
    advGen = createAdversarialGenerator(rng.split('adversarial-inputs'), {
      kinds: adv.kinds, contextTokens: adv.context_tokens, jsonTokens: adv.json_tokens, hugeMaxTokens: adv.huge_max_tokens, prompts
    })
  }

  /** Replaces the prompt with an adversarial input for `ratio` of the requests. */
  const finish = (spec: RequestSpec, classes: Record<string, string> | undefined, weight: number): PlannedRequest => {
    let adversarial: string | undefined
    if (advGen !== null && adv !== null && advRng.next() < adv.ratio) {
      const a = advGen.next()
      spec.prompt = a.prompt
      spec.inputTokens = a.inputTokens
      if (a.maxTokens !== null) spec.maxTokens = a.maxTokens
      // Adversarial prompts replace the whole conversation of a replayed chat.
      if (spec.extraBody !== undefined && 'messages' in spec.extraBody) spec.extraBody = extraBody
      adversarial = a.kind
    }
    const hasClasses = classes !== undefined && Object.keys(classes).length > 0
    if (!hasClasses && adversarial === undefined && weight === 1) return { spec, labels: undefined }
    const labels: RequestLabels = {}
    if (hasClasses) labels.classes = classes
    if (adversarial !== undefined) labels.adversarial = adversarial
    if (weight !== 1) labels.weight = weight
    return { spec, labels }
  }
  const synthesised = (endpoint: Endpoint, inputTokens: number, maxTokens: number, stream: boolean): RequestSpec => {
    const n = Math.min(Math.max(0, Math.round(inputTokens)), MAX_PROMPT_TOKENS)
    return { endpoint, prompt: prompts.make(n), inputTokens: n, maxTokens: Math.max(1, Math.round(maxTokens)), stream, includeUsage: true, extraBody }
  }

  const dims: BreakdownDimension[] = []
  const mix = (c.endpoint_mix ?? []).filter((e) => e.weight > 0)
  if (w !== null || mix.length > 1) dims.push('endpoint')
  if (w !== null) dims.push('class')
  if (adv !== null) dims.push('adversarial')
  const breakdown: BreakdownOptions | undefined = dims.length > 0 || lt !== null ? { dimensions: dims, weighted: lt !== null } : undefined

  if (w === null) {
    const next = syntheticRequests(c, rng, lt, streamFor, synthesised, finish)
    return {
      ownArrivals: false,
      next,
      arrivals: () => { throw new Error('createRequestSource: a synthetic run takes its arrivals from the arrival process') },
      breakdown
    }
  }
  if (w.kind === 'replay' && loaded?.kind === 'replay') {
    const log = loaded.log
    const fromRecord = (r: WorkloadRecord): PlannedRequest => {
      const endpoint = r.endpoint ?? c.endpoint
      const stream = streamFor(endpoint, r.stream)
      const maxTokens = Math.max(1, r.maxTokens ?? r.outputTokens)
      let spec: RequestSpec
      if (r.messages !== undefined && endpoint === '/v1/chat/completions') {
        // The logged conversation is sent as it was; `prompt` is overridden by extraBody.messages.
        spec = { endpoint, prompt: '', inputTokens: r.inputTokens, maxTokens, stream, includeUsage: true, extraBody: { ...extraBody, messages: r.messages } }
      } else if (r.prompt !== undefined || r.messages !== undefined) {
        const prompt = r.prompt ?? (r.messages ?? []).map((m) => m.content).join('\n')
        spec = { endpoint, prompt, inputTokens: r.inputTokens, maxTokens, stream, includeUsage: true, extraBody }
      } else {
        spec = synthesised(endpoint, r.inputTokens, maxTokens, stream)
      }
      return finish(spec, r.classes, 1)
    }
    let closedItems: Iterator<ReplayItem> | null = null
    return {
      ownArrivals: true,
      breakdown,
      next: () => {
        // A closed loop over a log (not offered by the CLI) goes through it in order, looping.
        closedItems ??= replaySchedule(log, { ...replayOptions(w), loop: true })[Symbol.iterator]()
        return fromRecord((closedItems.next().value as ReplayItem).record)
      },
      arrivals: (win) => replayArrivals(log, w, win, fromRecord)
    }
  }
  if (w.kind === 'model' && loaded?.kind === 'model') {
    const tilted: TiltedModel | null = lt === null ? null : tiltModel(loaded.model, lt, w.input_scale, w.output_scale)
    const model = tilted?.model ?? loaded.model
    const sampler = (r: Rng, rateScale: number): ModelSampler => createModelSampler(model, r, {
      rateScale,
      inputScale: tilted === null ? w.input_scale : 1,
      outputScale: tilted === null ? w.output_scale : 1
    })
    const fromSample = (s: SampledRequest): PlannedRequest => {
      const stream = streamFor(s.endpoint, s.stream)
      const spec = synthesised(s.endpoint, s.inputTokens, s.outputTokens, stream)
      return finish(spec, s.classes, tilted === null ? s.weight : tilted.weigh(s))
    }
    let closed: ModelSampler | null = null
    return {
      ownArrivals: true,
      breakdown,
      next: () => fromSample((closed ??= sampler(rng.split('model'), w.rate_scale)).next()),
      arrivals: (win) => {
        const scale = w.rate_scale * (win.share?.share ?? 1)
        if (!(scale > 0)) return { nextGapMs: () => NEVER_MS, current: () => { throw new Error('no arrivals') } }
        const s = sampler(win.rng, scale)
        let cur: SampledRequest | null = null
        return {
          nextGapMs: () => {
            cur = s.next()
            return cur.gapMs
          },
          current: () => fromSample(cur as SampledRequest)
        }
      }
    }
  }
  throw new Error('createRequestSource: unreachable workload kind')
}

function replayOptions(w: Extract<WorkloadSource, { kind: 'replay' }>): { speedup: number; loop: boolean; rateScale: number; fromMs: number; toMs?: number } {
  return { speedup: w.speedup, loop: w.loop, rateScale: w.rate_scale, fromMs: w.from_ms, ...(w.to_ms === null ? {} : { toMs: w.to_ms }) }
}

/**
 * The log's due times within [fromMs, toMs) of the run. In a mesh, an agent keeps the records
 * whose share key (the session id, else the line) hashes into its segment of [0, 1): the segments
 * tile [0, 1), so every record is sent by exactly one agent and a session stays on one agent.
 */
function replayArrivals(
  log: WorkloadLog,
  w: Extract<WorkloadSource, { kind: 'replay' }>,
  win: ArrivalWindow,
  fromRecord: (r: WorkloadRecord) => PlannedRequest
): ArrivalPlan {
  const items = replaySchedule(log, { ...replayOptions(w), maxDurationMs: win.toMs })[Symbol.iterator]()
  const share = win.share ?? null
  const unit = new WeakMap<WorkloadRecord, number>()
  const mine = (r: WorkloadRecord): boolean => {
    if (share === null) return true
    let u = unit.get(r)
    if (u === undefined) {
      u = keyUnitInterval(recordShareKey(r))
      unit.set(r, u)
    }
    return u >= share.from && u < share.to
  }
  let prev = win.fromMs
  let cur: ReplayItem | null = null
  return {
    nextGapMs: () => {
      for (;;) {
        const it = items.next()
        if (it.done === true) { cur = null; return NEVER_MS }
        const x = it.value
        if (x.atMs < win.fromMs || !mine(x.record)) continue
        if (x.atMs >= win.toMs) { cur = null; return NEVER_MS }
        const gap = x.atMs - prev
        prev = x.atMs
        cur = x
        return gap
      }
    },
    current: () => {
      if (cur === null) throw new Error('replay: no current record')
      return fromRecord(cur.record)
    }
  }
}

/** Synthetic requests: the length specs, the endpoint mix, the stream ratio, long-tail oversampling. */
function syntheticRequests(
  c: RunConfig,
  rng: Rng,
  lt: LongTail | null,
  streamFor: (endpoint: Endpoint, logged: boolean | null) => boolean,
  synthesised: (endpoint: Endpoint, inputTokens: number, maxTokens: number, stream: boolean) => RequestSpec,
  finish: (spec: RequestSpec, classes: Record<string, string> | undefined, weight: number) => PlannedRequest
): () => PlannedRequest {
  const inRng = rng.split('input_tokens')
  const outRng = rng.split('output_tokens')
  const endpointRng = rng.split('endpoint')
  const mix = c.endpoint_mix ?? null
  const endpoints = mix === null ? null : tiltTable(mix.map((_, i) => i), mix.map((e) => e.weight), lt ?? { threshold: 1e-300, factor: 1 }, 'values')
  const pickEndpoint = (): { endpoint: Endpoint; ratio: number } => {
    if (endpoints === null || mix === null) return { endpoint: c.endpoint, ratio: 1 }
    const i = endpoints.sample(endpointRng)
    return { endpoint: mix[i].endpoint, ratio: endpoints.ratio[i] }
  }
  if (lt === null) {
    const inputLen = createLengthSampler(c.input_tokens, inRng)
    const outputLen = createLengthSampler(c.output_tokens, outRng)
    return () => {
      const { endpoint } = pickEndpoint()
      const inputTokens = inputLen.sample()
      const maxTokens = outputLen.sample()
      return finish(synthesised(endpoint, inputTokens, maxTokens, streamFor(endpoint, null)), undefined, 1)
    }
  }
  const inTable = lengthTable(c.input_tokens, lt, '--input-tokens')
  const outTable = lengthTable(c.output_tokens, lt, '--output-tokens')
  return () => {
    const { endpoint, ratio } = pickEndpoint()
    const i = inTable.sample(inRng)
    const o = outTable.sample(outRng)
    // Embeddings and moderations generate nothing: their drawn output length changes nothing, so
    // it does not count in their weight.
    const weight = ratio * inTable.ratio[i] * (isGenerative(endpoint) ? outTable.ratio[o] : 1)
    return finish(synthesised(endpoint, inTable.values[i], outTable.values[o], streamFor(endpoint, null)), undefined, weight)
  }
}

function lengthTable(spec: LengthSpec, lt: LongTail, where: string): TiltedTable {
  const s = createLengthSampler(spec, rngForCdf, where)
  const [min, max] = spec.kind === 'fixed' ? [spec.value, spec.value] : [spec.min, spec.max]
  const t = tableFromCdf(min, max, (k) => s.cdf(k), where)
  return tiltTable(t.values, t.probs, lt, 'tails')
}

/** Only the CDF of these samplers is used; nothing is drawn from this stream. */
const rngForCdf: Rng = createRng('request-source/cdf-only')
