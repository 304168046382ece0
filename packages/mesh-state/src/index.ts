export { MembersError, MeshArgumentError } from './errors.ts'

export type { LamportClock } from './lamport.ts'
export { createLamportClock } from './lamport.ts'

export type { CommandRef } from './command-order.ts'
export { commandRef, compareCommands } from './command-order.ts'

export type {
  Membership,
  MembershipOptions,
  MemberView,
  MemberState,
  MembershipChange,
  HeartbeatOutcome
} from './membership.ts'
export { createMembership } from './membership.ts'

export type { PlanStore, PlanStoreOptions, PlanStatus, RunState, AdoptOutcome, AdoptResult } from './plans.ts'
export { createPlanStore } from './plans.ts'

export type { Share, ConcurrencyShare } from './shares.ts'
export type { WeightedMember } from './exact-weights.ts'
export { computeShares, openLoopRate, splitConcurrency, arrivalSeedLabel } from './shares.ts'

export type { EpochTimeline, ResolvedEpoch, Rebalance, DiscardedProposal, ProposeInput } from './epochs.ts'
export {
  resolveEpochs,
  compareEpochProposals,
  epochAt,
  nextEpochStart,
  proposeEpochChange
} from './epochs.ts'

export type { EpochLeadOptions } from './epoch-lead.ts'
export { epochLeadMs } from './epoch-lead.ts'

export type { ScheduleInterval } from './schedule.ts'
export { scheduleFor, intervalAt } from './schedule.ts'

export type {
  ResultsStore,
  ResultsStoreOptions,
  PutOutcome,
  PutSummary,
  RejectCode,
  Rejections,
  MergedResults,
  PeerDelta,
  ChangeSet
} from './results-store.ts'
export { createResultsStore } from './results-store.ts'
export type { Coverage, CoverageOptions, PeerCoverage, WindowRange } from './coverage.ts'

export type { ClockOffsets, ClockOffsetsOptions, PeerClockOffset } from './clock-offsets.ts'
export { createClockOffsets, DRIFT_PPM } from './clock-offsets.ts'

export type { BreakdownStore, BreakdownStoreOptions } from './breakdown-store.ts'
export { createBreakdownStore } from './breakdown-store.ts'
