import { sampleNormal } from '@loadmesh/workload'
import type { Engine, EngineContext, EngineFault, EngineStats, SimError, SimRequest, TokenSink } from './engine-types.ts'
import { EngineConfigError } from './errors.ts'
import { EventHeap } from './event-heap.ts'
import { createHeapAlarm } from './heap-alarm.ts'
import { kvCacheBlocks } from './profile.ts'
import type { StepProfile } from './profile.ts'
import { ARRIVING, DONE, DOWN, IDLE, KICK, Replica, RUNNING, STALL, STEP, Seq, WAITING } from './replica.ts'
import type { Counters, ReplicaConfig } from './replica.ts'
import { createStepCost } from './step-cost.ts'
import type { StepCostModel } from './step-cost.ts'

export type Routing = 'round-robin' | 'least-loaded'

export interface StepEngineOptions {
  /** Simulated replicas behind the one endpoint (default 1). */
  replicas?: number
  /** How a request picks its replica (default round-robin). */
  routing?: Routing
  /**
   * Queue threshold per replica: a request routed to a replica that already has this many waiting
   * is refused at once with 503, as an overloaded server's queue limit does (default: no limit).
   */
  maxWaiting?: number
}

/** A timer this late is on time: the next step still starts at the previous one's end. */
const JITTER_MS = 2
/**
 * A single later timer is a hiccup (a GC, a burst of requests): the next step starts when it fired,
 * as before. When timers keep firing late (two ticks in a row) the simulator is behind, not the
 * model: the next step starts at the previous one's end, as the GPU would have, and the steps owed
 * run in the same tick (the server merges each stream's tokens into one frame, as vLLM's output
 * collector does when its API process is busy). Only a simulator this far behind slips anyway:
 * replaying more than that at once would cost more CPU than the time it catches up on.
 */
const MAX_CATCH_UP_MS = 1000

const NOOP = (): void => {}

/**
 * The step-loop engine: `replicas` simulated vLLM instances behind one endpoint. Every deadline (a
 * replica's step end, a request's arrival after the API overhead, a stall's or a restart's end) sits
 * in one heap of absolute times, and one clock timer is armed for the earliest, so the cost is per
 * step and per request, never per token.
 */
export function createStepEngine(profile: StepProfile, ctx: EngineContext, opts: StepEngineOptions = {}): Engine {
  const nReplicas = opts.replicas ?? 1
  if (!Number.isInteger(nReplicas) || nReplicas < 1 || nReplicas > 4096) {
    throw new EngineConfigError(`engine replicas: must be an integer in 1..4096, got ${String(opts.replicas)}`)
  }
  const routing = opts.routing ?? 'round-robin'
  if (routing !== 'round-robin' && routing !== 'least-loaded') {
    throw new EngineConfigError(`engine routing: must be round-robin or least-loaded, got ${String(opts.routing)}`)
  }
  const maxWaiting = opts.maxWaiting ?? Number.POSITIVE_INFINITY
  if (!(maxWaiting >= 1) || (Number.isFinite(maxWaiting) && !Number.isInteger(maxWaiting))) {
    throw new EngineConfigError(`engine maxWaiting: must be a positive integer, got ${String(opts.maxWaiting)}`)
  }
  const group = ctx.tokensPerChunk
  if (!Number.isInteger(group) || group < 1) {
    throw new EngineConfigError(`engine tokensPerChunk: must be a positive integer, got ${String(group)}`)
  }
  const { clock } = ctx
  const cost: StepCostModel = createStepCost(profile)
  const s = profile.scheduler
  const totalBlocks = kvCacheBlocks(profile)
  const maxLen = Math.min(profile.model.max_model_len, totalBlocks * s.block_tokens)
  const cfg: ReplicaConfig = {
    maxSeqs: s.max_num_seqs,
    maxBatchedTokens: s.max_num_batched_tokens,
    blockTokens: s.block_tokens,
    chunked: s.chunked_prefill,
    prefixCaching: s.prefix_caching,
    reserveFull: s.kv_reservation === 'full',
    watermarkBlocks: Math.floor(s.watermark * totalBlocks),
    totalBlocks,
    price: cost.price,
    stepSigma: profile.noise.step_sigma,
    group
  }
  const counters: Counters = { active: 0, preemptions: 0, prefixQueries: 0, prefixHits: 0, promptTokens: 0, generationTokens: 0, steps: 0 }
  const replicas: Replica[] = []
  for (let i = 0; i < nReplicas; i++) replicas.push(new Replica(i, cfg, counters, ctx.rng.split(`replica/${i}`)))
  const ttftRng = ctx.rng.split('ttft')
  const overheadMs = cost.apiOverheadMs
  const ttftSigma = profile.noise.ttft_sigma

  const heap = new EventHeap<Seq | Replica>()
  /** Timer callbacks in a row that ran more than JITTER_MS late. */
  let lateTicks = 0
  let running = false
  let seqNo = 0
  let rr = 0
  let brownoutFactor = 1
  let brownoutUntil = Number.NEGATIVE_INFINITY

  const unavailable = (message: string, retryAfterS?: number): SimError =>
    ({ status: 503, type: 'service_unavailable', message, code: null, ...(retryAfterS === undefined ? {} : { retryAfterS }) })

  const kick = (r: Replica, now: number): void => {
    if (r.state !== IDLE) return
    r.state = KICK
    r.at = now
    heap.push(r)
  }

  const startStep = (r: Replica, t: number): void => {
    if (!r.up) return
    if (t < r.stallUntil) {
      r.state = STALL
      r.at = r.stallUntil
      heap.push(r)
      return
    }
    let d = r.schedule(t)
    if (d < 0) {
      r.state = IDLE
      return
    }
    if (t < brownoutUntil) d *= brownoutFactor
    r.state = STEP
    r.stepEnd = t + d
    r.at = r.stepEnd
    heap.push(r)
  }

  const onTimer = (armed: number): void => {
    const now = clock.now()
    lateTicks = now - armed > JITTER_MS ? lateTicks + 1 : 0
    const catchUp = lateTicks >= 2 ? MAX_CATCH_UP_MS : JITTER_MS
    for (let top = heap.peek(); top !== undefined && top.at <= now; top = heap.peek()) {
      heap.pop()
      if (top instanceof Seq) {
        arrive(top)
        continue
      }
      const r = top
      if (r.state === STEP) {
        const end = r.stepEnd
        r.finish(now)
        // A crash or stall injected from a sink changed the state; it owns the replica now.
        if (r.state === STEP && r.heapIndex < 0) startStep(r, now - end < catchUp ? end : now)
      } else if (r.state === KICK || r.state === STALL) {
        startStep(r, now - r.at < catchUp ? r.at : now)
      } else if (r.state === DOWN) {
        r.up = true
        r.state = IDLE
        if (r.hasWork()) startStep(r, now)
      }
    }
  }
  const alarm = createHeapAlarm(clock, () => heap.peek()?.at, onTimer)
  const arm = alarm.arm

  const arrive = (seq: Seq): void => {
    const r = seq.replica
    seq.state = WAITING
    r.waiting.pushBack(seq)
    r.waitingCount++
    // An arrival the tick is catching up on starts the idle replica when it arrived, not now.
    kick(r, seq.at)
  }

  const route = (): Replica | undefined => {
    if (routing === 'round-robin') {
      for (let k = 0; k < nReplicas; k++) {
        const r = replicas[(rr + k) % nReplicas]
        if (r.up) {
          rr = (r.index + 1) % nReplicas
          return r
        }
      }
      return undefined
    }
    let best: Replica | undefined
    let bestLoad = Number.POSITIVE_INFINITY
    for (const r of replicas) {
      if (!r.up) continue
      const load = r.runningCount + r.queued
      if (load < bestLoad) {
        best = r
        bestLoad = load
      }
    }
    return best
  }

  const cancelSeq = (seq: Seq): void => {
    if (seq.state === DONE) return
    if (seq.state === ARRIVING) heap.remove(seq)
    seq.replica.cancel(seq)
  }

  /** Fails a replica's requests still in their API overhead (they sit in the heap, not the replica). */
  const takeArriving = (r: Replica | null): Seq[] => {
    const out: Seq[] = []
    const keep: Array<Seq | Replica> = []
    for (const it of heap.clear()) {
      if (it instanceof Seq && (r === null || it.replica === r)) out.push(it)
      else keep.push(it)
    }
    for (const it of keep) heap.push(it)
    for (const seq of out) {
      seq.state = DONE
      seq.replica.queued--
      counters.active--
    }
    return out
  }

  const crash = (r: Replica, restartMs: number): void => {
    const now = clock.now()
    const arriving = takeArriving(r)
    heap.remove(r)
    r.up = false
    r.state = DOWN
    r.stallUntil = Number.NEGATIVE_INFINITY
    r.at = now + restartMs
    heap.push(r)
    const err = unavailable(`replica ${r.index} crashed; it restarts in ${Math.round(restartMs)} ms`, Math.max(1, Math.ceil(restartMs / 1000)))
    r.failAll(err)
    for (const seq of arriving) seq.sink.onError(err)
    arm()
  }

  const stall = (r: Replica, durationMs: number): void => {
    if (!r.up) return
    const now = clock.now()
    const until = now + durationMs
    if (r.state === STEP) {
      // The step in flight pauses: its remaining work resumes after the stall.
      r.stepEnd += durationMs
      r.at = r.stepEnd
      heap.push(r)
    } else if (r.state === STALL) {
      r.at = Math.max(r.at, until)
      heap.push(r)
    } else {
      if (r.state === KICK) heap.remove(r)
      r.state = STALL
      r.at = until
      heap.push(r)
    }
    r.stallUntil = Math.max(r.stallUntil, until)
    arm()
  }

  const checkReplica = (fault: EngineFault, i: number | undefined): void => {
    if (i !== undefined && !(Number.isInteger(i) && i >= 0 && i < nReplicas)) {
      throw new EngineConfigError(`engine fault ${fault.kind}: replica must be an integer in 0..${nReplicas - 1}, got ${String(i)}`)
    }
  }

  return {
    submit(req: SimRequest, sink: TokenSink): () => void {
      if (!running) {
        sink.onError(unavailable('simulator engine is not running'))
        return NOOP
      }
      const generation = req.endpoint === '/v1/chat/completions' || req.endpoint === '/v1/completions'
      if (!Number.isInteger(req.outputTokens) || req.outputTokens < (generation ? 1 : 0)) {
        throw new EngineConfigError(`step engine: request ${req.id} outputTokens must be an integer >= ${generation ? 1 : 0} for ${req.endpoint}, got ${req.outputTokens}`)
      }
      if (!Number.isInteger(req.promptTokens) || req.promptTokens < 0) {
        throw new EngineConfigError(`step engine: request ${req.id} promptTokens must be a non-negative integer, got ${req.promptTokens}`)
      }
      const prompt = Math.max(1, req.promptTokens)
      if (prompt + req.outputTokens > maxLen) {
        sink.onError({
          status: 400,
          type: 'invalid_request_error',
          message: `This model's maximum context length is ${maxLen} tokens. However, you requested ${req.promptTokens + req.outputTokens} tokens (${req.promptTokens} in the messages, ${req.outputTokens} in the completion).`,
          code: 'context_length_exceeded'
        })
        return NOOP
      }
      const r = route()
      if (r === undefined) {
        const soonest = Math.min(...replicas.map((x) => x.at))
        sink.onError(unavailable('every replica is down (crashed)', Math.max(1, Math.ceil((soonest - clock.now()) / 1000))))
        return NOOP
      }
      if (r.queued >= maxWaiting) {
        sink.onError(unavailable(`server overloaded: ${r.queued} requests waiting on replica ${r.index} (limit ${maxWaiting})`, 1))
        return NOOP
      }
      const hashes = cfg.prefixCaching && req.prefixHashes !== undefined && req.prefixHashes.length > 0 ? req.prefixHashes : null
      const seq = new Seq(req, sink, r, seqNo++, prompt, hashes)
      let delay = overheadMs
      if (delay > 0 && ttftSigma > 0) delay *= Math.exp(ttftSigma * sampleNormal(ttftRng) - ttftSigma * ttftSigma / 2)
      const now = clock.now()
      seq.at = Math.max(now, req.arrivalAt + delay)
      r.queued++
      counters.active++
      heap.push(seq)
      arm()
      return () => {
        if (seq.state === DONE) return
        const wasRunning = seq.state === RUNNING
        cancelSeq(seq)
        // A replica left with nothing runs no step; one with waiting work gets on with it.
        if (wasRunning && !alarm.firing && seq.replica.state === IDLE && seq.replica.hasWork()) kick(seq.replica, clock.now())
        arm()
      }
    },

    start() {
      running = true
    },

    stop() {
      running = false
      const err = unavailable('simulator is shutting down')
      const arriving = takeArriving(null)
      for (const it of heap.clear()) if (it instanceof Replica) it.state = IDLE
      alarm.reset()
      for (const r of replicas) {
        r.up = true
        r.state = IDLE
        r.stallUntil = Number.NEGATIVE_INFINITY
        r.failAll(err)
      }
      for (const seq of arriving) seq.sink.onError(err)
    },

    active: () => counters.active,

    stats(): EngineStats {
      let run = 0
      let wait = 0
      let used = 0
      let total = 0
      const per = replicas.map((r) => {
        run += r.runningCount
        wait += r.queued
        used += r.kv.used()
        total += r.kv.total
        return { up: r.up, running: r.runningCount, waiting: r.queued, kvCacheUsage: r.kv.total > 0 ? r.kv.used() / r.kv.total : 0 }
      })
      return {
        running: run,
        waiting: wait,
        kvCacheUsage: total > 0 ? used / total : 0,
        preemptions: counters.preemptions,
        prefixCacheQueries: counters.prefixQueries,
        prefixCacheHits: counters.prefixHits,
        promptTokens: counters.promptTokens,
        generationTokens: counters.generationTokens,
        replicas: per,
        steps: counters.steps
      }
    },

    inject(fault: EngineFault): void {
      const f = fault as { kind?: unknown }
      if (fault.kind === 'brownout') {
        if (!(fault.factor > 0 && Number.isFinite(fault.factor))) throw new EngineConfigError(`engine fault brownout: factor must be a positive number, got ${String(fault.factor)}`)
        if (!(fault.durationMs >= 0 && Number.isFinite(fault.durationMs))) throw new EngineConfigError(`engine fault brownout: durationMs must be >= 0 (0 = until replaced), got ${String(fault.durationMs)}`)
        brownoutFactor = fault.factor
        brownoutUntil = fault.durationMs === 0 ? Number.POSITIVE_INFINITY : clock.now() + fault.durationMs
        return
      }
      if (fault.kind === 'stall') {
        if (!(fault.durationMs > 0 && Number.isFinite(fault.durationMs))) throw new EngineConfigError(`engine fault stall: durationMs must be a positive number, got ${String(fault.durationMs)}`)
        checkReplica(fault, fault.replica)
        for (const r of fault.replica === undefined ? replicas : [replicas[fault.replica]]) stall(r, fault.durationMs)
        return
      }
      if (fault.kind === 'crash') {
        checkReplica(fault, fault.replica)
        if (fault.replica === undefined) throw new EngineConfigError('engine fault crash: replica is required')
        if (!(fault.restartMs >= 0 && Number.isFinite(fault.restartMs))) throw new EngineConfigError(`engine fault crash: restartMs must be >= 0, got ${String(fault.restartMs)}`)
        crash(replicas[fault.replica], fault.restartMs)
        return
      }
      throw new EngineConfigError(`engine fault: unknown kind ${JSON.stringify(f.kind)} (valid: brownout, stall, crash)`)
    },

    maxModelLen: () => maxLen
  }
}
