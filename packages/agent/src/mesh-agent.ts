import { randomUUID } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'

import type { Clock, Timer } from '@loadmesh/clock'
import type { MeshLogger, MeshNode, PublishOptions } from '@loadmesh/mesh'
import {
  createBreakdownStore, createClockOffsets, createMembership, createPlanStore, createResultsStore, epochLeadMs, intervalAt, proposeEpochChange,
  scheduleFor
} from '@loadmesh/mesh-state'
import type { BreakdownStore, ClockOffsets, Membership, PlanStatus, PlanStore, ResultsStore } from '@loadmesh/mesh-state'
import {
  decodeCommand, decodeEnvelope, decodeReconcileRequest, decodeReconcileResponse, encodeEnvelope, encodeReconcileRequest,
  clockSample, encodeReconcileResponse, LIMITS, prepareCodecs, MAX_RECONCILE_REQUEST_BYTES, MAX_RECONCILE_RESPONSE_BYTES, reconcileProtocol, windowToWire
} from '@loadmesh/protocol'
import type { Command, CommandBody, Envelope, Heartbeat, Member, PeerRole, RunPlan, SignedCommand, Stage } from '@loadmesh/protocol'
import { validateRunConfig } from './run-config.ts'
import type { RunConfig } from './run-config.ts'
import { createMeshRun } from './mesh-run.ts'
import type { MeshRun } from './mesh-run.ts'
import { signCommand, verifyCommand } from './mesh-commands.ts'
import { buildMeshReport } from './mesh-report.ts'
import type { MeshReport } from './mesh-report.ts'

export interface MeshAgentOptions {
  node: MeshNode
  clock: Clock
  /** Must be the node's mesh name (envelopes and commands carry it). */
  meshName: string
  role: PeerRole
  /** Declared capacity; the share of the load is proportional to it. Default 1. */
  weight?: number
  /** Peer ids allowed to sign plans, stops and aborts; empty or absent: any swarm member. */
  controllers?: string[]
  /** This agent's ceiling in requests per second; arrivals beyond it are dropped and counted. */
  maxRate?: number
  /** Sent to the target as the bearer token; never part of a plan. */
  apiKey?: string
  logger?: MeshLogger
  /** Heartbeat, results and epoch-check period. Default 1000 ms. */
  heartbeatMs?: number
  /** Membership timing (see @loadmesh/mesh-state). Defaults 3000 / 5000 ms. */
  suspectAfterMs?: number
  deadAfterMs?: number
  /** Event-loop delay p99 over one heartbeat period above which the agent reports itself degraded. Default 100 ms. */
  degradedLoopDelayMs?: number
  /** A plan still without epochs this long after it arrived gets epoch 0 proposed by the agents. Default 1000 ms. */
  epochGraceMs?: number
  /** Windows per results envelope. Default 20. */
  windowsPerDelta?: number
}

export interface PublishPlanOptions {
  /** Default: one stage of the config's duration at its rate (open) or concurrency (closed). */
  stages?: Stage[]
  /** T0 this far ahead of now (wall clock). Default 3000 ms. */
  startInMs?: number
  /** Origins agents may send load to. Default: the config target's origin. */
  targetAllow?: string[]
  runId?: string
  /** Publish epoch 0 from the live agents this controller sees (default). false leaves it to the agents. */
  epoch0?: boolean
}

export interface MemberStatus {
  peer_id: string
  role: PeerRole
  state: 'alive' | 'suspect' | 'dead'
  weight: number
  degraded: boolean
  self: boolean
  run_id: string
  epoch: number
  achieved_rate: number
  in_flight: number
  sent: number
  completed: number
  failed: number
  dropped: number
  loop_delay_p99_ms: number
  /** Its self-declared --max-rate, 0 when none. */
  max_rate: number
  /** The run it refused (as its heartbeat says) while that run is the current plan, else null. */
  refused: { run_id: string; reason: string } | null
  /** Why it is not carrying its full share right now ("refused run …", "capped: …"), else null. */
  note: string | null
}

export interface MeshAgentStats {
  /** Dropped inbound messages and refused plans, by reason. */
  rejected: Record<string, number>
  heartbeatsIn: number
  commandsIn: number
  resultsIn: number
  heartbeatsOut: number
  commandsOut: number
  resultsOut: number
  publishFailures: number
  reconcileRequestsIn: number
  /** Runs this agent refused to execute, and why. */
  refusals: Array<{ run_id: string; reason: string }>
}

export interface ReconcileOptions {
  /** Per request. Default 5000 ms. */
  timeoutMs?: number
}

export interface MeshAgent {
  readonly peerId: string
  start(): Promise<void>
  /** Stops timers and any run (aborted); leaves the node running (the caller owns it). Not restartable. */
  stop(): Promise<void>
  stats(): MeshAgentStats
  membership(): Membership
  plans(): PlanStore
  results(): ResultsStore
  clockOffsets(): ClockOffsets
  /** The run this agent executes (or last executed), if any. */
  currentRun(): MeshRun | null
  /** Pulls every live peer's windows of the run, merges them and builds the mesh-wide report. */
  reconcile(runId: string, options?: ReconcileOptions): Promise<MeshReport>
  /** Signs and publishes a plan and its epoch 0 (from the live agents). Returns the plan. */
  publishPlan(config: RunConfig, options?: PublishPlanOptions): Promise<RunPlan>
  stopRun(runId: string): Promise<void>
  abortRun(runId: string, reason?: string): Promise<void>
  status(): MemberStatus[]
  /**
   * Resolves once the run is over everywhere this peer can see: past its end (or stopped / aborted),
   * every live agent reports nothing in flight for it, and (unless aborted) every live member's
   * windows have arrived closed. Rejects after `timeoutMs`.
   */
  waitForRun(runId: string, options?: { timeoutMs?: number }): Promise<PlanStatus>
}

export class MeshAgentError extends Error {
  override name = 'MeshAgentError'
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export function createMeshAgent(options: MeshAgentOptions): MeshAgent {
  return new MeshAgentImpl(options)
}

const DECODE_REASON: Record<string, string> = {
  ERR_TOO_LARGE: 'too-large',
  ERR_MALFORMED: 'malformed',
  ERR_VERSION: 'version',
  ERR_INVALID_FIELD: 'invalid-field'
}

/**
 * Results deltas are published as periodic gossip (straight to every peer, not relayed: every
 * relayed copy is a duplicate in a full mesh, D per message per peer), and each one repeats
 * every window that changed in the previous RESULTS_REPEAT - 1 ticks. A closed window is never
 * superseded, so the repeats are what makes good a copy lost on a stream that just broke; what
 * still goes missing (a peer the publisher had not heard of yet) a reconcile pulls directly.
 */
const RESULTS_REPEAT = 3

/** See greet(). */
const GREET_DELAY_MS = 50
const GREET_GAP_MS = 250

/**
 * Clock probe rounds run at most this many at once, and not from this long before a run's T0 until
 * this long after: the CPU around T0 belongs to the start (see syncClocks).
 */
const CLOCK_SYNC_PARALLEL = 2
/**
 * Probes per round: the shortest round trip of 8 back-to-back ones is almost always a quiet one
 * (with 5, rounds taken while a mesh formed were off by up to 7 ms at 8 agents), and each costs
 * only ~0.5 ms of CPU on the two sides (the round's fixed cost, the stream, is ~6 ms).
 */
const CLOCK_PROBES = 8
const CLOCK_QUIET_BEFORE_T0_MS = 600
const CLOCK_QUIET_AFTER_T0_MS = 300
/**
 * Event-loop delay sampling period of an agent's heartbeat monitor. The sampler is a libuv timer:
 * at 10 ms it woke an idle agent 100 times a second, which measured 11 ms of CPU per second on
 * this VM (a bare process with only the monitor), two thirds of a lone idle agent's CPU. The
 * heartbeat only compares the p99 with the degraded threshold (100 ms by default); 50 ms samples
 * still see every stall of that size, at a fifth of the wake-ups.
 */
const LOOP_DELAY_RESOLUTION_MS = 50
/** Heartbeats and results due this close to T0 wait until just after it (see tick). */
const T0_QUIET_BEFORE_MS = 25
const T0_QUIET_AFTER_MS = 15

class MeshAgentImpl implements MeshAgent {
  readonly peerId: string
  private readonly o: MeshAgentOptions
  private readonly node: MeshNode
  private readonly clock: Clock
  private readonly log: MeshLogger | undefined
  private readonly heartbeatMs: number
  private readonly controllers: readonly string[]
  private readonly members: Membership
  private readonly planStore: PlanStore
  private readonly store: ResultsStore
  /** Each peer's latest cumulative breakdown per run (reconcile answers carry them, not gossip). */
  private readonly breakdowns: BreakdownStore = createBreakdownStore()
  private readonly offsets: ClockOffsets
  private clockSyncsInFlight = 0
  private readonly unsubs: Array<() => void> = []
  private readonly timers = new Set<Timer>()
  private ticker: Timer | null = null
  private seq = 0
  private startedAt = 0
  /** A look at the epoch is due at the end of a plan's grace period. */
  private epochRecheck = false
  /** Run id → clock.now() when its plan arrived: epoch 0 is the controller's during the grace period. */
  private readonly planSeenAt = new Map<string, number>()
  private running = false
  private stopped = false
  private loopDelay: ReturnType<typeof monitorEventLoopDelay> | null = null
  private lastLoopP99 = 0
  /** When the tick timer is due (clock.now()), and how late ticks ran since the last heartbeat. */
  private tickDueAt = Number.NaN
  private tickLateMs = 0
  private run: MeshRun | null = null
  private runPlanId = ''
  private runPlanStamp = 0
  /** Ticks left to publish after the run is done and its last window closed (see RESULTS_REPEAT). */
  private resultsTail = RESULTS_REPEAT
  private cursor = 0
  /** The cursors the previous RESULTS_REPEAT - 1 publications started from, oldest first. */
  private recentCursors: number[] = []
  private lastSent = { at: 0, sent: 0, rate: 0 }
  private greetPending = false
  private lastGreetAt = Number.NEGATIVE_INFINITY
  private readonly refusedRuns = new Set<string>()
  private lastRefusal: { run_id: string; reason: string } | null = null
  /** Signed commands received or issued, per run (bounded): what a reconcile hands a late joiner. */
  private readonly signedByRun = new Map<string, Map<string, SignedCommand>>()
  /** Plans seen, per run (bounded): the report needs a finished run's duration and SLO. */
  private readonly plansByRun = new Map<string, RunPlan>()
  private readonly reconcileId: string
  /** Signed commands this peer issued since its last plan (what it re-announces to newcomers). */
  private readonly issued: SignedCommand[] = []
  private readonly waiters = new Set<(err: Error) => void>()
  private readonly runningPeers = new Map<string, Set<string>>()
  private readonly counts: Omit<MeshAgentStats, 'rejected' | 'refusals'> = {
    heartbeatsIn: 0, commandsIn: 0, resultsIn: 0, heartbeatsOut: 0, commandsOut: 0, resultsOut: 0, publishFailures: 0, reconcileRequestsIn: 0
  }
  private readonly rejected: Record<string, number> = {}
  private readonly refusals: Array<{ run_id: string; reason: string }> = []

  constructor(o: MeshAgentOptions) {
    this.o = o
    this.node = o.node
    this.clock = o.clock
    this.log = o.logger
    this.peerId = o.node.peerId
    this.heartbeatMs = o.heartbeatMs ?? 1000
    this.controllers = o.controllers ?? []
    const weight = o.weight ?? 1
    if (!(weight > 0) || !Number.isFinite(weight)) throw new MeshAgentError('ERR_BAD_AGENT_OPTION', `createMeshAgent: weight must be a positive number, got ${weight}`)
    if (o.maxRate !== undefined && !(o.maxRate > 0)) throw new MeshAgentError('ERR_BAD_AGENT_OPTION', `createMeshAgent: maxRate must be positive, got ${o.maxRate}`)
    this.members = createMembership({ clock: o.clock, selfId: this.peerId, suspectAfterMs: o.suspectAfterMs, deadAfterMs: o.deadAfterMs })
    this.planStore = createPlanStore({ clock: o.clock, mesh: o.meshName })
    this.store = createResultsStore()
    this.offsets = createClockOffsets({ selfId: this.peerId })
    this.reconcileId = reconcileProtocol(o.meshName)
  }

  async start(): Promise<void> {
    if (this.running) return
    if (this.stopped) throw new MeshAgentError('ERR_AGENT_STOPPED', `mesh agent ${this.peerId} was stopped; create a new one`)
    this.running = true
    this.startedAt = this.clock.now()
    // Every codec now (~18 ms, once per process), not on first use: a controller's first reconcile
    // otherwise generated the reconcile codecs inside the timed exchange (16 ms in its profile).
    prepareCodecs()
    this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS })
    this.loopDelay.enable()
    this.unsubs.push(this.node.subscribe('state', (from, bytes) => this.onState(from, bytes)))
    this.unsubs.push(this.node.subscribe('control', (from, bytes) => { void this.onControl(from, bytes) }))
    this.unsubs.push(this.node.subscribe('results', (from, bytes) => this.onResults(from, bytes)))
    this.unsubs.push(this.node.handleStream(this.reconcileId, async (from, bytes) => this.onReconcileRequest(from, bytes), {
      maxRequestBytes: MAX_RECONCILE_REQUEST_BYTES,
      maxResponseBytes: MAX_RECONCILE_RESPONSE_BYTES
    }))
    // A peer our heartbeats just started reaching directly hears from us now, not up to a
    // heartbeat later. In the bench run that added it (with a relay change since dropped),
    // convergence went from 912 to 187 ms at 2 agents and from 880 to 516 at 4; at 16 agents on 2
    // cores, a host saturated while they join, A/B runs differed by less than their noise.
    this.unsubs.push(this.node.onTopicPeer('state', () => { this.greet() }))
    this.unsubs.push(this.members.onChange((change) => {
      if (change.peer_id === this.peerId) return
      const joined = change.current.state !== 'dead' && (change.previous === null || change.previous.state === 'dead')
      if (joined) {
        this.reannounce()
        this.greet()
        this.after(0, () => this.syncClocks())
      }
      this.maybeProposeEpoch()
    }))
    this.tick()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.stopped = true
    this.ticker?.cancel()
    this.ticker = null
    for (const t of this.timers) t.cancel()
    this.timers.clear()
    for (const u of this.unsubs.splice(0)) {
      try { u() } catch { /* the node may be stopped already */ }
    }
    this.members.close()
    this.loopDelay?.disable()
    for (const fail of [...this.waiters]) fail(new MeshAgentError('ERR_AGENT_STOPPED', 'the mesh agent was stopped'))
    this.run?.abort()
  }

  stats(): MeshAgentStats {
    const rejected = { ...this.rejected }
    // Oversized gossip never reaches a handler: the node drops and counts it.
    const oversize = this.node.stats().droppedOversize
    if (oversize > 0) rejected['gossip-oversize'] = oversize
    return { ...this.counts, rejected, refusals: [...this.refusals] }
  }

  membership(): Membership { return this.members }
  plans(): PlanStore { return this.planStore }
  results(): ResultsStore { return this.store }
  clockOffsets(): ClockOffsets { return this.offsets }
  currentRun(): MeshRun | null { return this.run }

  // ---- inbound -------------------------------------------------------------------------------

  private reject(reason: string, fields: Record<string, unknown> = {}): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1
    this.log?.debug({ reason, ...fields }, 'mesh agent: message dropped')
  }

  private decode(bytes: Uint8Array, topic: string, from: string): Envelope | null {
    const r = decodeEnvelope(bytes)
    if (!r.ok) {
      this.reject(DECODE_REASON[r.code] ?? 'malformed', { topic, from, detail: r.reason })
      return null
    }
    if (r.value.mesh !== this.o.meshName) {
      this.reject('wrong-mesh', { topic, from })
      return null
    }
    return r.value
  }

  private onState(from: string, bytes: Uint8Array): void {
    const env = this.decode(bytes, 'state', from)
    if (env === null) return
    if (env.body.type !== 'heartbeat') { this.reject('wrong-topic', { topic: 'state', from }); return }
    const hb = env.body.heartbeat
    // Gossip is signed by its origin: a heartbeat must speak for the peer that sent it.
    if (hb.peer_id !== from) { this.reject('spoofed-heartbeat', { from, claimed: hb.peer_id }); return }
    this.counts.heartbeatsIn++
    const outcome = this.members.onHeartbeat(hb)
    if (outcome === 'replay') return
    if (hb.run_id !== '') {
      let peers = this.runningPeers.get(hb.run_id)
      if (peers === undefined) {
        // Bounded: only the latest few runs matter to waitForRun.
        if (this.runningPeers.size >= 16) this.runningPeers.delete(this.runningPeers.keys().next().value as string)
        this.runningPeers.set(hb.run_id, (peers = new Set()))
      }
      peers.add(hb.peer_id)
    }
  }

  /** Whether a peer's heartbeats ever showed it executing the run. */
  private executing(runId: string, peerId: string): boolean {
    return this.runningPeers.get(runId)?.has(peerId) === true
  }

  private async onControl(from: string, bytes: Uint8Array): Promise<void> {
    const env = this.decode(bytes, 'control', from)
    if (env === null) return
    if (env.body.type !== 'command') { this.reject('wrong-topic', { topic: 'control', from }); return }
    const v = await verifyCommand(env.body.command, this.o.meshName, this.controllers)
    if (!v.ok) { this.reject(v.reason, { from }); return }
    if (!this.running) return
    this.counts.commandsIn++
    this.keepSigned(v.command, env.body.command)
    this.apply(v.command)
  }

  private onResults(from: string, bytes: Uint8Array): void {
    const env = this.decode(bytes, 'results', from)
    if (env === null) return
    if (env.body.type !== 'results') { this.reject('wrong-topic', { topic: 'results', from }); return }
    // Gossip is signed by its origin, and an agent publishes only its own windows: a delta for
    // another peer is a forgery (or a bug) that would overwrite that peer's results.
    if (env.body.results.peer_id !== from) { this.reject('spoofed-results', { from, claimed: env.body.results.peer_id }); return }
    this.counts.resultsIn++
    const summary = this.store.putDelta(env.body.results)
    if (summary.rejected > 0) {
      this.rejected['bad-window'] = (this.rejected['bad-window'] ?? 0) + summary.rejected
    }
  }

  private async onReconcileRequest(from: string, bytes: Uint8Array): Promise<Uint8Array> {
    this.counts.reconcileRequestsIn++
    const r = decodeReconcileRequest(bytes)
    if (!r.ok) {
      this.reject(`reconcile-${DECODE_REASON[r.code] ?? 'malformed'}`, { from })
      throw new MeshAgentError('ERR_BAD_RECONCILE_REQUEST', `reconcile request from ${from}: ${r.reason}`)
    }
    const { run_id: runId } = r.value
    const peers = r.value.peers.length > 0 ? r.value.peers : this.store.peers(runId)
    this.keepOwnBreakdown(runId)
    const response = (withBreakdowns: boolean): Uint8Array => encodeReconcileResponse({
      run_id: runId,
      responder: this.peerId,
      peers: peers.map((p) => {
        const breakdown = withBreakdowns ? this.breakdowns.encoded(runId, p) : undefined
        return {
          peer_id: p,
          windows: this.store.peerWindows(runId, p).map(windowToWire),
          live: this.members.member(p)?.state !== 'dead',
          ...(breakdown !== undefined ? { breakdown } : {})
        }
      }),
      ...(r.value.commands === true ? { commands: [...(this.signedByRun.get(runId)?.values() ?? [])] } : {})
    })
    try {
      return response(true)
    } catch (err) {
      // Windows are what the merged totals need; the breakdown goes when both do not fit one frame.
      if ((err as { code?: string }).code !== 'ERR_TOO_LARGE') throw err
      this.log?.warn({ run_id: runId, error: (err as Error).message }, 'mesh agent: reconcile answer too large with breakdowns; sent without')
      return response(false)
    }
  }

  /** This agent's own breakdown of `runId` into the store (a run's snapshot outlives the run). */
  private keepOwnBreakdown(runId: string): void {
    if (this.run === null || this.run.runId !== runId) return
    const snap = this.run.breakdownSnapshot()
    if (snap !== null) this.breakdowns.put(runId, this.peerId, snap)
  }

  // ---- commands ------------------------------------------------------------------------------

  private async issue(body: CommandBody): Promise<Command> {
    const command: Command = { lamport: this.planStore.lamport.tick(), id: randomUUID(), issuer: this.peerId, mesh: this.o.meshName, body }
    const signed = await signCommand(this.node, command)
    if (body.type === 'plan') this.issued.length = 0
    this.issued.push(signed)
    this.keepSigned(command, signed)
    this.apply(command)
    await this.publish('control', { mesh: this.o.meshName, body: { type: 'command', command: signed } })
    this.counts.commandsOut++
    return command
  }

  /**
   * Gossip has no history: a peer that joins after a plan was issued would never hear of it. The
   * issuer of each command re-sends it (the same signed bytes) when a peer appears, while the run is
   * on; receivers deduplicate by command id.
   */
  private reannounce(): void {
    const cur = this.planStore.current()
    if (cur === null || (cur.state !== 'pending' && cur.state !== 'running') || this.issued.length === 0) return
    for (const command of this.issued) {
      this.publish('control', { mesh: this.o.meshName, body: { type: 'command', command } }).catch((err: unknown) => this.publishFailed(err))
    }
  }

  /** Remembers a verified command's signed bytes (and a plan) under its run, for reconcile answers and reports. */
  private keepSigned(command: Command, signed: SignedCommand): void {
    const runId = runOf(command)
    if (command.body.type === 'plan') bounded(this.plansByRun, runId, command.body.plan)
    let held = this.signedByRun.get(runId)
    if (held === undefined) bounded(this.signedByRun, runId, (held = new Map()))
    if (held.size < LIMITS.commandsPerResponse) held.set(command.id, signed)
  }

  /** A command whose signature and issuer were checked (or one we issued). */
  private apply(command: Command): void {
    const r = this.planStore.adopt(command)
    if (r.outcome === 'duplicate' || r.outcome === 'wrong-mesh' || r.outcome === 'superseded') return
    const b = command.body
    if (b.type === 'plan') this.onPlan(b.plan, command)
    else if (b.type === 'epoch') this.onTimeline(b.epoch.run_id)
    else if (b.type === 'stop') { if (this.run?.runId === b.stop.run_id) this.run.stop() }
    else if (this.run?.runId === b.abort.run_id) this.run.abort()
  }

  private onPlan(plan: RunPlan, command: Command): void {
    const status = this.planStore.current()
    if (status === null || status.run_id !== plan.run_id) return
    if (this.run !== null && this.run.runId !== plan.run_id) {
      const old = this.run
      old.stop()
      // Its in-flight requests still finish into its recorder: keep the breakdown as of then.
      void old.done().then(() => {
        const snap = old.breakdownSnapshot()
        if (snap !== null) this.breakdowns.put(old.runId, this.peerId, snap)
      })
    }
    // A plan without an epoch gets one from the agents after a grace period (the controller
    // normally sends epoch 0 right after the plan).
    bounded(this.planSeenAt, plan.run_id, this.clock.now())
    this.after(this.o.epochGraceMs ?? 1000, () => {
      if (this.planStore.timeline(plan.run_id).latest === null) this.maybeProposeEpoch()
    })
    if (this.o.role !== 'agent') return
    if (status.state !== 'pending' && status.state !== 'running') return
    const config = this.acceptConfig(plan)
    if (config === null) return
    let run: MeshRun
    try {
      // Reads a replay log or a workload model (paths are the controller's, which every agent must
      // see at the same place): one this agent cannot read is refused like any other bad plan,
      // never run as something else and never thrown into the gossip handler.
      run = createMeshRun({
        plan, config, selfId: this.peerId, clock: this.clock, maxRate: this.o.maxRate, apiKey: this.o.apiKey
      })
    } catch (err) {
      this.refuseRun(plan, 'bad-workload', `plan ${plan.run_id}: cannot load its workload on this agent: ${(err as Error).message}`)
      return
    }
    this.runPlanId = command.id
    this.runPlanStamp = command.lamport
    this.cursor = 0
    this.recentCursors = []
    this.resultsTail = RESULTS_REPEAT
    this.run = run
    this.log?.info({ run_id: plan.run_id, start_wall_ms: plan.start_wall_ms }, 'mesh agent: plan adopted')
    run.update(this.planStore.timeline(plan.run_id))
  }

  /** The plan's RunConfig if this agent may run it; otherwise the refusal is counted and remembered. */
  private acceptConfig(plan: RunPlan): RunConfig | null {
    const refuse = (code: string, reason: string): null => {
      this.refuseRun(plan, code, reason)
      return null
    }
    let config: RunConfig
    try {
      config = validateRunConfig(JSON.parse(plan.config_json) as RunConfig)
    } catch (err) {
      return refuse('bad-config', `plan ${plan.run_id}: config_json is not a valid RunConfig: ${(err as Error).message}`)
    }
    const origin = new URL(config.target).origin
    if (!plan.target_allow.includes(origin)) {
      return refuse('target-not-allowed', `plan ${plan.run_id}: target ${origin} is not in the plan's target_allow [${plan.target_allow.join(', ')}]`)
    }
    return config
  }

  /** Counts and remembers a refusal; heartbeats name it while the run is the current plan. */
  private refuseRun(plan: RunPlan, code: string, reason: string): void {
    this.reject(code, { run_id: plan.run_id, reason })
    if (!this.refusedRuns.has(plan.run_id)) {
      this.refusedRuns.add(plan.run_id)
      this.refusals.push({ run_id: plan.run_id, reason })
    }
    this.lastRefusal = { run_id: plan.run_id, reason }
    this.log?.warn({ run_id: plan.run_id, reason }, 'mesh agent: run refused')
  }

  private onTimeline(runId: string): void {
    if (this.run?.runId === runId) this.run.update(this.planStore.timeline(runId))
  }

  /** Proposes the next epoch when the live agents differ from the latest epoch's members. */
  private maybeProposeEpoch(): void {
    // Controllers issue epoch 0 with their plans; the agents that carry the load decide the rest.
    if (!this.running || this.o.role !== 'agent') return
    const cur = this.planStore.current()
    if (cur === null || (cur.state !== 'pending' && cur.state !== 'running')) return
    // A peer that has just started has not heard everyone yet; its view would shrink the epoch.
    const warmFor = (this.o.suspectAfterMs ?? 3000) - (this.clock.now() - this.startedAt)
    if (warmFor > 0) {
      this.after(warmFor, () => this.maybeProposeEpoch())
      return
    }
    // Epoch 0 is the controller's, sent right after its plan. Without this, any membership change
    // in between (peers' heartbeats change as they adopt the plan) had every agent propose its own
    // epoch 0 at once: 12 of 16 did, a burst of signed commands 2 s before T0.
    const seen = this.planSeenAt.get(cur.run_id)
    const grace = this.o.epochGraceMs ?? 1000
    if (cur.epochs.latest === null && seen !== undefined && this.clock.now() - seen < grace) {
      // The grace timer itself can land here: a timer is armed from the event loop's cached time,
      // so on a busy loop it fires early by as long as the arming turn had run. Without a second
      // look, a run whose membership stays put never got its epoch 0 (seen on a loaded CI host).
      if (!this.epochRecheck) {
        this.epochRecheck = true
        this.after(seen + grace - this.clock.now() + 1, () => { this.epochRecheck = false; this.maybeProposeEpoch() })
      }
      return
    }
    const live = this.members.loadMembers()
    // Epochs start on a heartbeat boundary a measured lead ahead (offsets and round trips), and a
    // change that only loses members starts when everyone agrees they died: the takeover costs
    // the detection time and little more.
    const e = proposeEpochChange({
      run_id: cur.run_id,
      timeline: cur.epochs,
      live,
      nowRelMs: cur.elapsed_ms,
      durationMs: cur.duration_ms,
      alignMs: Math.max(1, Math.round(this.heartbeatMs)),
      marginMs: epochLeadMs(this.offsets.all()),
      agreedDeathMs: this.agreedDeathMs(cur.epochs.latest?.members ?? [], live, cur.start_wall_ms)
    })
    if (e === null) return
    this.log?.info({ run_id: e.run_id, epoch: e.epoch, start_ms: e.start_ms, members: e.members.length }, 'mesh agent: proposing epoch')
    this.issue({ type: 'epoch', epoch: e }).catch((err: unknown) => this.publishFailed(err))
  }

  /**
   * When every peer declares the members of `epoch` missing from `live` dead (plan-relative ms):
   * from their last heartbeats' own wall clocks, which every survivor holds alike. Undefined when
   * one of them was never heard.
   */
  private agreedDeathMs(epoch: readonly Member[], live: readonly Member[], startWallMs: number): number | undefined {
    const liveIds = new Set(live.map((m) => m.peer_id))
    let last = Number.NEGATIVE_INFINITY
    for (const m of epoch) {
      if (liveIds.has(m.peer_id)) continue
      const hb = this.members.member(m.peer_id)?.heartbeat
      if (hb === undefined) return undefined
      last = Math.max(last, hb.wall_ms)
    }
    return Number.isFinite(last) ? last - startWallMs + (this.o.deadAfterMs ?? 5000) : undefined
  }

  // ---- periodic ------------------------------------------------------------------------------

  private after(ms: number, fn: () => void): void {
    const t = this.clock.setTimer(() => { this.timers.delete(t); if (this.running) fn() }, Math.max(0, ms))
    this.timers.add(t)
  }

  /**
   * An extra heartbeat shortly after a peer joins or our gossip stream to a peer opens, so that it
   * learns of this one now rather than up to a heartbeat period later (a joiner's first beats go
   * out before it is connected to anyone).
   * Joins within GREET_DELAY_MS share one, and greetings are at least GREET_GAP_MS apart.
   */
  private greet(): void {
    if (this.greetPending) return
    this.greetPending = true
    const now = this.clock.now()
    this.after(Math.max(GREET_DELAY_MS, this.lastGreetAt + GREET_GAP_MS - now), () => {
      this.greetPending = false
      this.lastGreetAt = this.clock.now()
      this.sendHeartbeat()
    })
  }

  private armTick(ms: number): void {
    this.tickDueAt = this.clock.now() + Math.max(0, ms)
    this.ticker = this.clock.setTimer(() => this.tick(), ms)
  }

  private tick(): void {
    if (!this.running) return
    if (!Number.isNaN(this.tickDueAt)) this.tickLateMs = Math.max(this.tickLateMs, this.clock.now() - this.tickDueAt)
    // Our heartbeat (encode, sign, publish to every peer) and results are not urgent; a run's
    // first sends are, on every agent: moved out of the few ms around T0.
    const toT0 = this.nextT0() - this.clock.now()
    if (toT0 > -T0_QUIET_AFTER_MS && toT0 < T0_QUIET_BEFORE_MS) {
      this.armTick(toT0 + T0_QUIET_AFTER_MS)
      return
    }
    try {
      this.sendHeartbeat()
      this.publishResults()
      this.syncClocks()
    } finally {
      this.armTick(this.heartbeatMs)
    }
  }

  /** The current plan's T0 on our monotonic clock (NaN without one): controllers keep quiet at T0 too. */
  private nextT0(): number {
    const cur = this.planStore.current()
    if (cur === null) return Number.NaN
    if (this.run !== null && this.run.runId === cur.run_id) return this.run.t0
    return this.clock.now() + (cur.start_wall_ms - this.clock.wallNow())
  }

  /**
   * Measures the clocks of live peers that are due (new ones first, then each every ~30 s) with a
   * few direct probes each (see ClockOffsets and the mesh's measureClock). Skipped around a run's
   * T0: the agent's start is what the offsets are there to judge, and it must not share the CPU.
   */
  private syncClocks(): void {
    if (!this.running) return
    const now = this.clock.now()
    const toT0 = this.nextT0() - now
    if (toT0 < CLOCK_QUIET_BEFORE_T0_MS && toT0 > -CLOCK_QUIET_AFTER_T0_MS) return
    const live = this.members.live().filter((m) => !m.self).map((m) => m.peer_id)
    for (const peer of this.offsets.due(live, now, CLOCK_SYNC_PARALLEL - this.clockSyncsInFlight)) {
      this.offsets.onStart(peer, now)
      this.clockSyncsInFlight++
      this.node.measureClock(peer, { probes: CLOCK_PROBES }).then((probes) => {
        this.offsets.onRound(peer, probes.map((p) => clockSample(p.t1, p.t2, p.t3, p.t4)), this.clock.now())
      }, (err: unknown) => {
        this.offsets.onFailure(peer, this.clock.now())
        this.log?.debug({ peer, error: (err as Error)?.message }, 'mesh agent: clock probes failed')
      }).finally(() => {
        this.clockSyncsInFlight--
        // The next due peer now rather than a heartbeat later: a new mesh gets its offsets in one go.
        if (this.running) this.syncClocks()
      })
    }
  }

  private sendHeartbeat(): void {
    const now = this.clock.now()
    const status = this.run?.status()
    const sent = status?.sent ?? 0
    if (now - this.lastSent.at >= this.heartbeatMs / 2) {
      const dt = (now - this.lastSent.at) / 1000
      this.lastSent = { at: now, sent, rate: this.lastSent.at === 0 || sent < this.lastSent.sent ? 0 : (sent - this.lastSent.sent) / dt }
    }
    if (this.loopDelay !== null && this.loopDelay.count > 0) {
      // Node's samples are whole timer periods; the delay is what exceeds the period.
      this.lastLoopP99 = Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_DELAY_RESOLUTION_MS)
      this.loopDelay.reset()
    }
    // reset() also drops the sampler's pending sample: when this tick's timer ran before the
    // sampler's after a stall, the stall was never recorded. The tick's own lateness covers that.
    this.lastLoopP99 = Math.max(this.lastLoopP99, this.tickLateMs)
    this.tickLateMs = 0
    const active = this.run !== null && status !== undefined && status.phase !== 'done'
    const hb: Heartbeat = {
      peer_id: this.peerId,
      role: this.o.role,
      weight: this.o.weight ?? 1,
      seq: ++this.seq,
      wall_ms: this.clock.wallNow(),
      mono_ms: now,
      run_id: active ? (this.run as MeshRun).runId : '',
      epoch: active ? (status.epoch ?? 0) : 0,
      plan_id: active ? this.runPlanId : '',
      plan_stamp: active ? this.runPlanStamp : 0,
      achieved_rate: this.lastSent.rate,
      in_flight: status?.in_flight ?? 0,
      sent,
      completed: status?.completed ?? 0,
      failed: status?.failed ?? 0,
      dropped: status?.dropped ?? 0,
      loop_delay_p99_ms: this.lastLoopP99,
      degraded: this.lastLoopP99 > (this.o.degradedLoopDelayMs ?? 100),
      max_rate: this.o.maxRate ?? 0,
      listen_addrs: this.node.addresses().filter((a) => a.length <= 256).slice(0, 32)
    }
    // Said while the refused run is the current plan: the controller shows why this agent is idle.
    const refusal = this.lastRefusal
    if (refusal !== null && this.planStore.current()?.run_id === refusal.run_id) {
      hb.refused_run_id = refusal.run_id
      hb.refused_reason = refusal.reason.slice(0, LIMITS.reasonChars)
    }
    this.members.onHeartbeat(hb)
    this.counts.heartbeatsOut++
    // Periodic: the next heartbeat supersedes this one, so it is not worth relaying (mesh publish options).
    this.publish('state', { mesh: this.o.meshName, body: { type: 'heartbeat', heartbeat: hb } }, { periodic: true }).catch((err: unknown) => this.publishFailed(err))
  }

  /**
   * Own windows into the store, then out: every window that changed in this tick or the previous
   * RESULTS_REPEAT - 1, ≤ windowsPerDelta per envelope, straight to every peer and not relayed.
   */
  private publishResults(): void {
    const run = this.run
    if (run === null) return
    const done = run.status().phase === 'done'
    // After the run, keep going until the last window has closed and gone out (and been
    // repeated), then go quiet.
    if (done && this.resultsTail <= 0) return
    const windows = run.recorder.windows(this.clock.now())
    for (const w of windows) this.store.put(run.runId, this.peerId, w)
    if (done && windows.every((w) => w.closed)) {
      if (this.resultsTail === RESULTS_REPEAT) this.keepOwnBreakdown(run.runId)
      this.resultsTail--
    }
    const limit = this.o.windowsPerDelta ?? 20
    const started = this.cursor
    let from = this.recentCursors[0] ?? this.cursor
    for (let round = 0; round < 50; round++) {
      const cs = this.store.changesSince(run.runId, from, { peer: this.peerId, limit })
      from = cs.cursor
      // periodic: see RESULTS_REPEAT.
      for (const d of cs.deltas) this.publishDelta(d.run_id, d.peer_id, d.windows.map(windowToWire), true)
      if (!cs.more) break
    }
    this.cursor = from
    this.recentCursors.push(started)
    if (this.recentCursors.length > RESULTS_REPEAT - 1) this.recentCursors.shift()
  }

  private publishDelta(runId: string, peerId: string, windows: ReturnType<typeof windowToWire>[], periodic: boolean): void {
    let bytes: Uint8Array
    try {
      bytes = encodeEnvelope({ mesh: this.o.meshName, body: { type: 'results', results: { run_id: runId, peer_id: peerId, windows } } })
    } catch (err) {
      // Too large for one gossip message: halve (windows are independent, order does not matter).
      if (windows.length > 1) {
        const mid = Math.ceil(windows.length / 2)
        this.publishDelta(runId, peerId, windows.slice(0, mid), periodic)
        this.publishDelta(runId, peerId, windows.slice(mid), periodic)
      } else {
        this.log?.warn({ run_id: runId, error: (err as Error).message }, 'mesh agent: window too large to gossip; reconcile will carry it')
      }
      return
    }
    this.counts.resultsOut++
    this.node.publish('results', bytes, { periodic }).catch((err: unknown) => this.publishFailed(err))
  }

  private async publish(topic: 'state' | 'control', env: Envelope, options?: PublishOptions): Promise<void> {
    await this.node.publish(topic, encodeEnvelope(env), options)
  }

  private publishFailed(err: unknown): void {
    this.counts.publishFailures++
    this.log?.debug({ error: (err as Error)?.message }, 'mesh agent: publish failed')
  }

  // ---- reconcile and report --------------------------------------------------------------------

  async reconcile(runId: string, options: ReconcileOptions = {}): Promise<MeshReport> {
    const timeoutMs = options.timeoutMs ?? 5000
    const live = this.members.live().filter((m) => !m.self).map((m) => m.peer_id)
    const failures = new Map<string, string>()
    const commands: SignedCommand[] = []
    // One frame per (responder, peer): a long run never needs a single huge response.
    const ask = async (responder: string, peer: string, withCommands: boolean): Promise<void> => {
      try {
        const request = encodeReconcileRequest({ run_id: runId, peers: [peer], ...(withCommands ? { commands: true } : {}) })
        const bytes = await this.node.request(responder, this.reconcileId, request, { timeoutMs, maxResponseBytes: MAX_RECONCILE_RESPONSE_BYTES })
        const r = decodeReconcileResponse(bytes)
        if (!r.ok) throw new MeshAgentError('ERR_BAD_RECONCILE_RESPONSE', `reconcile response from ${responder}: ${r.reason}`)
        if (r.value.run_id !== runId) throw new MeshAgentError('ERR_BAD_RECONCILE_RESPONSE', `reconcile response from ${responder} is for run ${r.value.run_id}`)
        this.store.putReconcile(r.value)
        for (const pw of r.value.peers) {
          if (pw.breakdown === undefined || pw.peer_id === this.peerId) continue
          const b = this.breakdowns.putEncoded(runId, pw.peer_id, pw.breakdown)
          if (!b.ok) this.reject('bad-breakdown', { from: responder, peer: pw.peer_id, detail: b.reason })
        }
        if (r.value.commands !== undefined) commands.push(...r.value.commands)
      } catch (err) {
        if (!failures.has(responder)) failures.set(responder, (err as Error).message)
      }
    }
    // Round 1: every live peer for its own windows (nobody holds them fresher) and, so that a peer
    // that joined after the run learns its plan and epochs (shares, rebalances), the run's commands.
    await Promise.all(live.map(async (responder) => await ask(responder, responder, true)))
    await this.adoptReconciled(runId, commands)
    // Round 2: peers that cannot answer for themselves (dead, gone, restarted since, or silent just
    // now): their windows from everyone who answered, merged (gossip may have reached each one
    // with different windows).
    const known = new Set<string>(this.store.peers(runId))
    for (const e of this.planStore.timeline(runId).epochs) for (const m of e.members) known.add(m.peer_id)
    const responders = live.filter((p) => !failures.has(p))
    const orphans = [...known].filter((p) => p !== this.peerId && (!responders.includes(p) || (this.members.member(p)?.restarts ?? 0) > 0))
    await Promise.all(responders.flatMap((responder) => orphans.filter((p) => p !== responder).map(async (p) => await ask(responder, p, false))))
    const answered = live.filter((p) => !failures.has(p))
    const failed = [...failures].map(([peer_id, error]) => ({ peer_id, error }))
    const cur = this.planStore.current()
    this.keepOwnBreakdown(runId)
    return buildMeshReport({
      runId,
      selfId: this.peerId,
      results: this.store,
      breakdowns: this.breakdowns,
      timeline: this.planStore.timeline(runId),
      livePeers: this.members.live().map((m) => m.peer_id),
      clockOffsets: this.offsets.all(),
      reconcile: { answered: answered.sort(), failed },
      plan: this.plansByRun.get(runId) ?? (cur?.run_id === runId ? cur.plan : null)
    })
  }

  /**
   * Commands a reconcile brought, checked exactly like gossip. Epochs, stops and aborts of the run
   * are adopted (they only describe it); a plan is only remembered for the report, never adopted,
   * so reading an old run's results cannot make it this peer's current plan.
   */
  private async adoptReconciled(runId: string, commands: readonly SignedCommand[]): Promise<void> {
    for (const signed of commands) {
      const peek = decodeCommand(signed.payload)
      if (!peek.ok || runOf(peek.value) !== runId || this.signedByRun.get(runId)?.has(peek.value.id) === true) continue
      const v = await verifyCommand(signed, this.o.meshName, this.controllers)
      if (!v.ok) { this.reject(`reconcile-${v.reason}`, { run_id: runId }); continue }
      this.keepSigned(v.command, signed)
      if (v.command.body.type !== 'plan') this.apply(v.command)
    }
  }

  // ---- controller ------------------------------------------------------------------------------

  async publishPlan(config: RunConfig, options: PublishPlanOptions = {}): Promise<RunPlan> {
    validateRunConfig(config)
    const stages: Stage[] = options.stages ?? [{
      duration_ms: config.duration_ms,
      rate: config.mode === 'open' ? (config.rate as number) : 0,
      concurrency: config.mode === 'closed' ? (config.concurrency as number) : 0
    }]
    const startIn = options.startInMs ?? 3000
    const plan: RunPlan = {
      run_id: options.runId ?? randomUUID(),
      seed: config.seed,
      start_wall_ms: Math.round(this.clock.wallNow() + startIn),
      stages,
      config_json: JSON.stringify(config),
      target_allow: options.targetAllow ?? [new URL(config.target).origin]
    }
    await this.issue({ type: 'plan', plan })
    if (options.epoch0 === false) return plan
    const duration = stages.reduce((s, st) => s + st.duration_ms, 0)
    const e = proposeEpochChange({
      run_id: plan.run_id, timeline: this.planStore.timeline(plan.run_id), live: this.members.loadMembers(), nowRelMs: -startIn, durationMs: duration
    })
    if (e !== null) await this.issue({ type: 'epoch', epoch: e })
    return plan
  }

  async stopRun(runId: string): Promise<void> {
    await this.issue({ type: 'stop', stop: { run_id: runId } })
  }

  async abortRun(runId: string, reason = 'aborted by controller'): Promise<void> {
    await this.issue({ type: 'abort', abort: { run_id: runId, reason } })
  }

  status(): MemberStatus[] {
    const cur = this.planStore.current()
    const active = cur !== null && (cur.state === 'pending' || cur.state === 'running')
    const schedules = new Map<string, number>()
    const rateOf = (peer: string): number => {
      if (!active || cur === null) return 0
      let r = schedules.get(peer)
      if (r === undefined) {
        r = intervalAt(scheduleFor(cur.plan, cur.epochs, peer), Math.max(0, cur.elapsed_ms))?.rate ?? 0
        schedules.set(peer, r)
      }
      return r
    }
    return this.members.members().map((m) => {
      const hb = m.heartbeat
      const refused = cur !== null && hb.refused_run_id !== undefined && hb.refused_run_id === cur.run_id
        ? { run_id: hb.refused_run_id, reason: hb.refused_reason ?? '' }
        : null
      let note: string | null = null
      if (refused !== null) note = `refused run ${refused.run_id}: ${refused.reason}`
      else if (m.role === 'agent' && hb.max_rate > 0 && rateOf(m.peer_id) > hb.max_rate) {
        note = `capped: share ${rateOf(m.peer_id).toFixed(1)} req/s over --max-rate ${hb.max_rate}; the rest is dropped and counted`
      }
      return { ...this.memberStatus(m), max_rate: hb.max_rate, refused, note }
    })
  }

  private memberStatus(m: ReturnType<Membership['members']>[number]): Omit<MemberStatus, 'max_rate' | 'refused' | 'note'> {
    return ({
      peer_id: m.peer_id,
      role: m.role,
      state: m.state,
      weight: m.weight,
      degraded: m.degraded,
      self: m.self,
      run_id: m.heartbeat.run_id,
      epoch: m.heartbeat.epoch,
      achieved_rate: m.heartbeat.achieved_rate,
      in_flight: m.heartbeat.in_flight,
      sent: m.heartbeat.sent,
      completed: m.heartbeat.completed,
      failed: m.heartbeat.failed,
      dropped: m.heartbeat.dropped,
      loop_delay_p99_ms: m.heartbeat.loop_delay_p99_ms
    })
  }

  waitForRun(runId: string, options: { timeoutMs?: number } = {}): Promise<PlanStatus> {
    const deadline = this.clock.now() + (options.timeoutMs ?? 120_000)
    let waiter: ((err: Error) => void) | undefined
    return new Promise<PlanStatus>((resolve, reject) => {
      waiter = reject
      this.waiters.add(reject)
      const check = (): void => {
        const cur = this.planStore.current()
        if (cur !== null && cur.run_id === runId && cur.state !== 'pending' && cur.state !== 'running') {
          const endWall = cur.state === 'finished' ? cur.end_wall_ms : 0
          const agents = this.members.live().filter((m) => m.role === 'agent')
          const quiet = agents.every((m) => m.heartbeat.run_id !== runId || (m.heartbeat.in_flight === 0 && m.heartbeat.wall_ms >= endWall))
          // And their results are in: every live member's windows arrived closed (a dead peer's last
          // window stays open for good, so it is not waited for).
          const members = new Set(cur.epochs.epochs.flatMap((e) => e.members.map((x) => x.peer_id)))
          const settled = agents.filter((m) => members.has(m.peer_id)).every((m) => {
            const ws = this.store.peerWindows(runId, m.peer_id)
            // Only an agent that took the run on (said so in a heartbeat) owes windows: one that
            // refused it, or a run stopped before it sent anything, has none.
            return (ws.length > 0 || !this.executing(runId, m.peer_id)) && ws.every((w) => w.closed)
          })
          if (quiet && (settled || cur.state === 'aborted')) { resolve(cur); return }
        }
        if (!this.running) { reject(new MeshAgentError('ERR_AGENT_STOPPED', `waitForRun(${runId}): the agent was stopped`)); return }
        if (this.clock.now() >= deadline) {
          const waitingFor = this.members.live().filter((m) => m.role === 'agent').map((m) => {
            const ws = this.store.peerWindows(runId, m.peer_id)
            return `${m.peer_id}: run "${m.heartbeat.run_id}", ${m.heartbeat.in_flight} in flight, ${ws.filter((w) => w.closed).length}/${ws.length} windows closed`
          })
          reject(new MeshAgentError('ERR_TIMEOUT', `waitForRun(${runId}): not over after ${options.timeoutMs ?? 120_000} ms (state ${cur?.run_id === runId ? cur.state : 'unknown'}; ${waitingFor.join('; ')})`))
          return
        }
        this.after(100, check)
      }
      check()
    }).finally(() => {
      if (waiter !== undefined) this.waiters.delete(waiter)
    })
  }
}

/** The run a command is about. */
function runOf(c: Command): string {
  const b = c.body
  return b.type === 'plan' ? b.plan.run_id : b.type === 'stop' ? b.stop.run_id : b.type === 'abort' ? b.abort.run_id : b.epoch.run_id
}

/** Sets `key` in a map that keeps the 16 most recently added runs. */
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  if (!map.has(key) && map.size >= 16) map.delete(map.keys().next().value as string)
  map.set(key, value)
}
