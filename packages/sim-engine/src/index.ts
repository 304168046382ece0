export type {
  Engine, EngineContext, EngineFactory, EngineFault, EngineStats, FinishReason, ReplicaStats, RequestTimings,
  SimEndpoint, SimError, SimRequest, TokenSink
} from './engine-types.ts'
export { ProfileError, EngineConfigError, VirtualRunError } from './errors.ts'
export type {
  Profile, FixedProfile, StepProfile, ModelSpec, HardwareSpec, SchedulerSpec, StepCostSpec, RooflineCost, LinearCost,
  TableCost, FitCost, FitPoint, NoiseSpec
} from './profile.ts'
export { parseProfile } from './profile.ts'
export { loadProfile, listProfiles } from './load-profile.ts'
export { createEngineFromProfile, profileCapacity } from './create-engine.ts'
export type { EngineOptions, ProfileCapacity } from './create-engine.ts'
export type { Routing } from './step-engine.ts'
export { prefixBlockHashes } from './prefix-hashes.ts'
export { runVirtual } from './virtual-run.ts'
export type { VirtualRunOptions, VirtualRunResult } from './virtual-run.ts'
// The deadline heap behind "one timer for the whole engine"; the simulator's fixed engine uses it too.
export { EventHeap } from './event-heap.ts'
export { createHeapAlarm } from './heap-alarm.ts'
export type { HeapAlarm } from './heap-alarm.ts'
export type { HeapItem } from './event-heap.ts'
