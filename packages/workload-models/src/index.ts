/**
 * Workload models from real request logs: read logs (Azure trace, OpenAI request logs, a generic
 * CSV/JSONL schema), replay them on a schedule, fit a generative model (lengths, arrivals, classes,
 * sessions) with goodness of fit for every candidate, and sample requests from a model.
 * Formats and fitting are documented in docs/workload.md.
 */
export type {
  WorkloadEndpoint, WorkloadRecord, WorkloadLog, WorkloadLogFormat, ParseLogOptions,
  ReplayOptions, ReplayItem,
  LengthDistribution, LengthDistributionKind, QqPoint, CandidateFit, FitResult, LengthFit,
  GapProcess, ArrivalModel, ClassModel, SessionModel, WorkloadModel, FitOptions,
  ModelOverrides, SampledRequest, ModelSampler
} from './types.ts'
export { WORKLOAD_ENDPOINTS } from './types.ts'
export type { LogProblem } from './errors.ts'
export { LogFormatError, ModelFormatError, WorkloadModelOptionError } from './errors.ts'
export { readWorkloadLog, parseWorkloadLog, AZURE_ATTRIBUTION } from './read-log.ts'
export { replaySchedule } from './replay-schedule.ts'
export { recordShareKey, shareForKey, keyUnitInterval } from './share-key.ts'
export { fitWorkloadModel } from './fit-model.ts'
export { loadWorkloadModel, validateWorkloadModel, MODEL_SCHEMA } from './model-file.ts'
export { createModelSampler } from './model-sampler.ts'
export type { LengthModel } from './length-model.ts'
export { createLengthModel } from './length-model.ts'
