export type { RunConfig, Endpoint } from './run-config.ts'
export { validateRunConfig, RunConfigError } from './run-config.ts'
export { runLocal } from './run-local.ts'
export type { Progress, RunLocalOptions } from './run-local.ts'
export type { InjectorHealth } from './injector-health.ts'
export { createMeshAgent, MeshAgentError } from './mesh-agent.ts'
export type {
  MeshAgent, MeshAgentOptions, MeshAgentStats, MemberStatus, PublishPlanOptions, ReconcileOptions
} from './mesh-agent.ts'
export type { MeshRun, MeshRunStatus, MeshRunPhase } from './mesh-run.ts'
export { buildMeshReport } from './mesh-report.ts'
export type { MeshReport, MeshReportAgent, BuildMeshReportInput } from './mesh-report.ts'
