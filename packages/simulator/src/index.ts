export { createSimulator } from './simulator.ts'
export type { Simulator, SimulatorOptions, SimulatorStats, FixedEngineConfig } from './simulator.ts'
export type {
  Engine, EngineContext, EngineFactory, SimRequest, SimEndpoint, SimError, TokenSink, FinishReason
} from './engine.ts'
export { createFixedEngine } from './fixed-engine.ts'
export type { FixedEngineOptions } from './fixed-engine.ts'
export { createSampledLatency } from './latency-model.ts'
export type { LatencyModel, SampledLatencyOptions } from './latency-model.ts'
export { resolveOutputLength, DEFAULT_OUTPUT_TOKENS } from './output-length.ts'
export type { OutputLength, OutputLengthInput } from './output-length.ts'
export { SimulatorConfigError } from './errors.ts'
