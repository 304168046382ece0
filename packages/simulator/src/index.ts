export { createSimulator } from './simulator.ts'
export type { Simulator, SimulatorOptions, SimulatorStats, FixedEngineConfig, ProfileEngineConfig } from './simulator.ts'
export type {
  Engine, EngineContext, EngineFactory, EngineFault, EngineStats, ReplicaStats, RequestTimings, SimRequest, SimEndpoint,
  SimError, TokenSink, FinishReason
} from './engine.ts'
export { createFixedEngine, DEFAULT_MAX_MODEL_LEN } from './fixed-engine.ts'
export type { FixedEngineOptions } from './fixed-engine.ts'
export { createSampledLatency } from './latency-model.ts'
export type { LatencyModel, SampledLatencyOptions } from './latency-model.ts'
export { resolveOutputLength, DEFAULT_OUTPUT_TOKENS } from './output-length.ts'
export type { OutputLength, OutputLengthInput } from './output-length.ts'
export { parseFaultConfig, parseFaultHeader, REQUEST_FAULT_KINDS, TIMED_FAULT_KINDS } from './fault-config.ts'
export type {
  FaultSpec, RateFault, TimedFault, BrownoutFault, StallFault, CrashFault, RequestFaultKind, TimedFaultKind, ForcedFault
} from './fault-config.ts'
export type { FaultStatus } from './fault-controller.ts'
export { embeddingVector } from './embeddings.ts'
export { MODERATION_CATEGORIES } from './moderations.ts'
export { SimulatorConfigError, FaultConfigError } from './errors.ts'
