// The engine seam lives in @loadmesh/sim-engine so the server depends on the engines, not the reverse.
export type {
  Engine, EngineContext, EngineFactory, EngineFault, EngineStats, FinishReason, ReplicaStats, RequestTimings,
  SimEndpoint, SimError, SimRequest, TokenSink
} from '@loadmesh/sim-engine'
