import type { Rng } from '@loadmesh/workload'
import { sampleNormal } from '@loadmesh/workload'
import type { RequestTimings, SimError, SimRequest, TokenSink } from './engine-types.ts'
import type { HeapItem } from './event-heap.ts'
import { Deque } from './deque.ts'
import { KvCache } from './kv-cache.ts'
import type { StepPricer } from './step-cost.ts'

/** Lifecycle of a request inside the engine. */
export const ARRIVING = 0
export const WAITING = 1
export const RUNNING = 2
export const DONE = 3

/** What a replica is doing; it sits in the engine's heap in every state but IDLE. */
export const IDLE = 0
/** Has work and starts a step as soon as the heap reaches it (batches simultaneous arrivals). */
export const KICK = 1
/** A step is in flight; `at` is its end. */
export const STEP = 2
/** Stalled until `at`. */
export const STALL = 3
/** Crashed; restarts at `at`. */
export const DOWN = 4

/** Replicas sort after arrivals due at the same instant, so a step starting then sees them. */
export const REPLICA_TIE_BASE = 2 ** 50

/** Engine-wide counters (cumulative since creation) the replicas add to. */
export interface Counters {
  active: number
  preemptions: number
  prefixQueries: number
  prefixHits: number
  promptTokens: number
  generationTokens: number
  steps: number
}

export interface ReplicaConfig {
  maxSeqs: number
  maxBatchedTokens: number
  blockTokens: number
  chunked: boolean
  prefixCaching: boolean
  /** Reserve prompt + output at admission (no preemption) instead of growing block by block. */
  reserveFull: boolean
  watermarkBlocks: number
  totalBlocks: number
  price: StepPricer
  stepSigma: number
  /** Tokens per onTokens call. */
  group: number
}

/** One request. Its counters are token counts; nothing is kept per token. */
export class Seq implements HeapItem {
  at = 0
  tie: number
  heapIndex = -1
  readonly req: SimRequest
  readonly sink: TokenSink
  readonly replica: Replica
  state = ARRIVING
  /** Prompt tokens to compute (an empty prompt still costs its BOS token). */
  readonly prompt: number
  readonly output: number
  /** Prefix hashes, when the prefix cache is on and the request has them. */
  readonly hashes: readonly number[] | null
  /** Tokens whose KV is computed. */
  computed = 0
  /** prompt + generated: tokens that must have KV before the next token can be sampled. */
  total: number
  generated = 0
  emitted = 0
  /** Blocks held: private ones, and the leading prefix blocks shared through the cache. */
  own = 0
  shared = 0
  cachedTokens = 0
  preemptions = 0
  firstScheduledAt = Number.NaN
  firstTokenAt = Number.NaN
  lastTokenAt = Number.NaN

  constructor(req: SimRequest, sink: TokenSink, replica: Replica, tie: number, prompt: number, hashes: readonly number[] | null) {
    this.req = req
    this.sink = sink
    this.replica = replica
    this.tie = tie
    this.prompt = prompt
    this.output = req.outputTokens
    this.total = prompt
    this.hashes = hashes
  }
}

/**
 * One simulated vLLM instance: a waiting queue, a running batch and a KV cache, advanced one step
 * at a time by the engine. `schedule` builds a step as vLLM's v1 scheduler does: running requests
 * first (one decode token each, or their next prefill chunk), preempting the newest running request
 * by recompute when blocks run out; then, if nothing was preempted, waiting requests FCFS within the
 * token budget, max_num_seqs and free blocks. `finish` applies the step: the first token comes out at
 * the end of the step that completes a prefill, and every later step adds one token per decode.
 */
export class Replica implements HeapItem {
  at = 0
  readonly tie: number
  heapIndex = -1
  readonly index: number
  state = IDLE
  up = true
  stallUntil = Number.NEGATIVE_INFINITY
  /** When the in-flight step ends (valid in STEP). */
  stepEnd = 0
  readonly kv: KvCache
  readonly waiting = new Deque<Seq>(64)
  /** Requests routed here and not yet running: arriving (api overhead) or waiting. */
  queued = 0
  waitingCount = 0
  /** Running requests, oldest admission first; finished ones are removed lazily (`dirty`). */
  readonly running: Seq[] = []
  runningCount = 0
  private dirty = false
  /** The step in flight: who was scheduled and how many tokens each computes. */
  private readonly schedSeqs: Array<Seq | undefined>
  private readonly schedTokens: Int32Array
  private schedCount = 0
  private readonly cfg: ReplicaConfig
  private readonly counters: Counters
  private readonly noise: Rng

  constructor(index: number, cfg: ReplicaConfig, counters: Counters, noise: Rng) {
    this.index = index
    this.tie = REPLICA_TIE_BASE + index
    this.cfg = cfg
    this.counters = counters
    this.noise = noise
    this.kv = new KvCache(cfg.totalBlocks)
    this.schedSeqs = new Array<Seq | undefined>(cfg.maxSeqs).fill(undefined)
    this.schedTokens = new Int32Array(cfg.maxSeqs)
  }

  hasWork(): boolean {
    return this.runningCount > 0 || this.waitingCount > 0
  }

  /**
   * Builds the next step at time `now`; returns its duration before faults (ms), or -1 when there
   * is nothing to run.
   */
  schedule(now: number): number {
    const cfg = this.cfg
    const kv = this.kv
    const bt = cfg.blockTokens
    if (this.dirty) this.compact()
    const running = this.running
    let budget = cfg.maxBatchedTokens
    let count = 0
    let tokens = 0
    let ctx = 0
    let attn = 0
    let preempted = false
    // Without chunked prefill, vLLM's V0 scheduler runs waiting prompts in a step of their own
    // whenever one fits, and the running requests' decodes wait for it.
    const prefillOnly = !cfg.chunked && this.canAdmitHead()
    for (let i = 0; i < running.length && budget > 0 && !prefillOnly; i++) {
      const s = running[i]
      let n = s.total - s.computed
      if (n > budget) n = budget
      const need = Math.ceil((s.computed + n) / bt) - s.own - s.shared
      if (need > 0) {
        while (need > kv.free()) {
          const victim = running.pop() as Seq
          this.preempt(victim)
          preempted = true
          if (victim === s) break
        }
        if (s.state !== RUNNING) break
        kv.allocate(need)
        s.own += need
      }
      this.schedSeqs[count] = s
      this.schedTokens[count] = n
      count++
      tokens += n
      budget -= n
      ctx += s.computed + n
      attn += n * s.computed + n * (n + 1) / 2
    }
    // vLLM admits nobody in a step that had to preempt: memory is short. With nothing left running
    // the queue must move, or a request that preempted itself would wait forever.
    if (!preempted || this.runningCount === 0) {
      while (budget > 0 && this.runningCount < cfg.maxSeqs) {
        const s = this.waiting.peekFront()
        if (s === undefined) break
        if (s.state !== WAITING) { this.waiting.popFront(); continue } // cancelled while waiting
        let hit = 0
        let unheld = 0
        if (s.hashes !== null) {
          // At least one token is always computed: its logits give the next token.
          const found = kv.lookup(s.hashes, Math.floor((s.total - 1) / bt))
          hit = found.blocks
          unheld = found.unheld
        }
        const cached = hit * bt
        let n = s.total - cached
        if (n > budget) {
          if (!cfg.chunked) break
          n = budget
        }
        const need = Math.ceil((cfg.reserveFull ? s.prompt + s.output : cached + n) / bt) - hit
        const headroom = this.runningCount === 0 ? 0 : cfg.watermarkBlocks
        if (need + unheld > kv.free() - headroom) break
        this.waiting.popFront()
        this.waitingCount--
        this.queued--
        if (hit > 0) kv.acquire(s.hashes as readonly number[], hit)
        kv.allocate(need)
        s.shared = hit
        s.own = need
        s.computed = cached
        s.cachedTokens = cached
        if (s.hashes !== null) {
          this.counters.prefixQueries += s.prompt
          this.counters.prefixHits += cached
        }
        if (Number.isNaN(s.firstScheduledAt)) {
          s.firstScheduledAt = now
          this.counters.promptTokens += s.req.promptTokens
        }
        s.state = RUNNING
        running.push(s)
        this.runningCount++
        this.schedSeqs[count] = s
        this.schedTokens[count] = n
        count++
        tokens += n
        budget -= n
        ctx += cached + n
        attn += n * cached + n * (n + 1) / 2
      }
    }
    this.schedCount = count
    if (count === 0) return -1
    this.counters.steps++
    let cost = cfg.price(count, tokens, ctx, attn)
    if (cfg.stepSigma > 0) {
      const sg = cfg.stepSigma
      // Mean-one log-normal: the batch's tokens all see the same slow or fast step.
      cost *= Math.exp(sg * sampleNormal(this.noise) - sg * sg / 2)
    }
    return cost
  }

  /** Applies the step that just ended at `now`: KV advances, tokens come out, requests finish. */
  finish(now: number): void {
    const cfg = this.cfg
    const group = cfg.group
    const count = this.schedCount
    this.schedCount = 0
    for (let j = 0; j < count; j++) {
      const s = this.schedSeqs[j] as Seq
      this.schedSeqs[j] = undefined
      if (s.state !== RUNNING) continue // cancelled or failed during the step
      s.computed += this.schedTokens[j]
      if (s.hashes !== null && s.shared < s.hashes.length) this.registerPrefix(s)
      if (s.computed < s.total) continue // mid-prefill
      if (s.output === 0) {
        if (Number.isNaN(s.firstTokenAt)) s.firstTokenAt = now
        this.complete(s, now)
        continue
      }
      s.generated++
      s.total++
      this.counters.generationTokens++
      if (s.generated === 1) s.firstTokenAt = now
      if (s.generated === s.output) {
        if (s.generated > s.emitted) this.emit(s, now)
        if (s.state === RUNNING) this.complete(s, now)
      } else if (s.generated - s.emitted >= group) {
        this.emit(s, now)
      }
    }
  }

  /** Whether the first live waiting request would be admitted now (prompt blocks, seat, budget). */
  private canAdmitHead(): boolean {
    let s = this.waiting.peekFront()
    while (s !== undefined && s.state !== WAITING) {
      this.waiting.popFront()
      s = this.waiting.peekFront()
    }
    if (s === undefined || this.runningCount >= this.cfg.maxSeqs) return false
    const bt = this.cfg.blockTokens
    const hit = s.hashes === null ? { blocks: 0, unheld: 0 } : this.kv.lookup(s.hashes, Math.floor((s.total - 1) / bt))
    if (s.total - hit.blocks * bt > this.cfg.maxBatchedTokens) return false
    const need = Math.ceil((this.cfg.reserveFull ? s.prompt + s.output : s.total) / bt) - hit.blocks
    const headroom = this.runningCount === 0 ? 0 : this.cfg.watermarkBlocks
    return need + hit.unheld <= this.kv.free() - headroom
  }

  /** Fails every request here (crash or shutdown) and empties the replica. */
  failAll(err: SimError): void {
    const victims: Seq[] = []
    for (const s of this.running) if (s.state === RUNNING) victims.push(s)
    for (const s of this.waiting.drain()) if (s.state === WAITING) victims.push(s)
    this.running.length = 0
    this.runningCount = 0
    this.waitingCount = 0
    this.queued = 0
    this.dirty = false
    for (let j = 0; j < this.schedCount; j++) this.schedSeqs[j] = undefined
    this.schedCount = 0
    this.kv.reset()
    for (const s of victims) {
      s.state = DONE
      this.counters.active--
    }
    for (const s of victims) s.sink.onError(err)
  }

  /** The client went away: the request leaves without a word to its sink. */
  cancel(s: Seq): void {
    if (s.state === WAITING) {
      this.waitingCount--
      this.queued--
    } else if (s.state === RUNNING) {
      this.freeBlocks(s)
      this.runningCount--
      this.dirty = true
    } else if (s.state === ARRIVING) {
      this.queued--
    }
    s.state = DONE
    this.counters.active--
  }

  private emit(s: Seq, now: number): void {
    const n = s.generated - s.emitted
    s.emitted = s.generated
    s.lastTokenAt = now
    s.sink.onTokens(n)
  }

  private complete(s: Seq, now: number): void {
    s.state = DONE
    this.freeBlocks(s)
    this.runningCount--
    this.dirty = true
    this.counters.active--
    const first = s.firstTokenAt
    const last = Number.isNaN(s.lastTokenAt) ? now : s.lastTokenAt
    const timings: RequestTimings = {
      queueMs: s.firstScheduledAt - s.req.arrivalAt,
      prefillMs: first - s.firstScheduledAt,
      decodeMs: last - first,
      cachedPromptTokens: s.cachedTokens,
      preemptions: s.preemptions,
      replica: this.index
    }
    s.sink.onDone(s.req.finishReason, timings)
  }

  /** Recompute preemption: the request loses its KV and goes back to the front of the queue. */
  private preempt(s: Seq): void {
    this.freeBlocks(s)
    s.computed = 0
    s.state = WAITING
    s.preemptions++
    this.runningCount--
    this.waiting.pushFront(s)
    this.waitingCount++
    this.queued++
    this.counters.preemptions++
  }

  private freeBlocks(s: Seq): void {
    if (s.shared > 0) this.kv.releaseShared(s.hashes as readonly number[], s.shared)
    this.kv.release(s.own)
    s.shared = 0
    s.own = 0
  }

  /** Prompt blocks this step completed join the prefix cache, in order. */
  private registerPrefix(s: Seq): void {
    const hashes = s.hashes as readonly number[]
    const full = Math.min(hashes.length, Math.floor(Math.min(s.computed, s.prompt) / this.cfg.blockTokens))
    while (s.shared < full && s.own > 0) {
      this.kv.register(hashes[s.shared])
      s.shared++
      s.own--
    }
  }

  private compact(): void {
    const running = this.running
    let w = 0
    for (let r = 0; r < running.length; r++) {
      const s = running[r]
      if (s.state === RUNNING) running[w++] = s
    }
    running.length = w
    this.dirty = false
  }
}
