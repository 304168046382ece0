/**
 * Plain-JSON types shared by log parsing, replay, fitting and sampling. Everything here can be
 * written to disk or put on the wire as is (no classes, no Maps), because logs are replayed across a
 * mesh and models are files people read.
 */

export type WorkloadEndpoint = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings' | '/v1/moderations'

export const WORKLOAD_ENDPOINTS: readonly WorkloadEndpoint[] = [
  '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/moderations'
]

/** One logged request, times relative to the first record. */
export interface WorkloadRecord {
  /** Milliseconds since the first record of the log (fractional: sub-ms precision is kept). */
  atMs: number
  /** 1-based line of the log file the record came from (the header is line 1 of a CSV). */
  line: number
  endpoint?: WorkloadEndpoint
  model?: string
  stream?: boolean
  inputTokens: number
  /** Logged output tokens, or max_tokens when the output was not logged. */
  outputTokens: number
  maxTokens?: number
  prompt?: string
  messages?: Array<{ role: string; content: string }>
  sessionId?: string
  turn?: number
  /** region, client_type, intent, ... when present. */
  classes: Record<string, string>
}

export type WorkloadLogFormat = 'azure' | 'openai' | 'generic-csv' | 'generic-jsonl'

export interface WorkloadLog {
  /** Where the log came from (a path), used in every error message about it. */
  source: string
  format: WorkloadLogFormat
  /** Sorted by atMs (a log with unsorted timestamps is refused). Never empty. */
  records: WorkloadRecord[]
  /** ISO-8601 wall time of the first record, when the log has absolute timestamps. */
  startedAt: string | null
}

export interface ParseLogOptions {
  /** Skip format detection. */
  format?: WorkloadLogFormat
  /** Problems collected before giving up (default 20); all of them go into one LogFormatError. */
  maxProblems?: number
}

export interface ReplayOptions {
  /** Time compression: 60 plays an hour of log in a minute (default 1). */
  speedup?: number
  /** Start again after the last record, forever (bound it with maxDurationMs). */
  loop?: boolean
  /**
   * Request-rate multiplier on the same timeline: below 1 keeps an evenly spread subset of the
   * records, above 1 adds copies spread between a record and the next one (default 1).
   */
  rateScale?: number
  /** Window of the log to replay, in log milliseconds (relative to the first record): [fromMs, toMs). */
  fromMs?: number
  toMs?: number
  /** Stop once the replay clock (after speedup) passes this many ms. */
  maxDurationMs?: number
}

export interface ReplayItem {
  /** Due time in ms from the start of the replay. */
  atMs: number
  record: WorkloadRecord
  /** 0 for the first pass through the window, then 1, 2, ... when looping. */
  iteration: number
  /** 0 for the record itself, 1, 2, ... for the extra copies made by rateScale > 1. */
  copy: number
}

// ---------------------------------------------------------------------------------------------
// Model file (schema 'loadmesh.workload-model/v1'); documented in docs/workload.md.

/**
 * Length (token count) distributions over the integers [min, max]. Log-normal kinds are
 * discretised: P(k) ∝ F(k + ½) − F(k − ½) with F the log-normal CDF of (mu, sigma) (the parameters
 * of ln X), which is how @loadmesh/workload samples them. Negative binomials have mean `mean` and
 * variance mean + mean²/r. Mixtures are mixtures of components that are each truncated to
 * [min, max]. Empirical: P(values[i]) = counts[i] / Σ counts.
 */
export type LengthDistribution =
  | { kind: 'lognormal'; mu: number; sigma: number; min: number; max: number }
  | { kind: 'lognormal-mixture'; components: Array<{ weight: number; mu: number; sigma: number }>; min: number; max: number }
  | { kind: 'negbin'; mean: number; r: number; min: number; max: number }
  | { kind: 'negbin-mixture'; components: Array<{ weight: number; mean: number; r: number }>; min: number; max: number }
  | { kind: 'empirical'; values: number[]; counts: number[] }

export type LengthDistributionKind = LengthDistribution['kind']

/** A (data quantile, model quantile) pair at probability p. */
export interface QqPoint { p: number; data: number; model: number }

export interface CandidateFit<D> {
  distribution: D
  /** Free parameters (an empirical distribution counts one per distinct value but one). */
  params: number
  /** Kolmogorov-Smirnov distance between the data and the fitted distribution (in-sample). */
  ks: number
  /**
   * Two-fold cross-validated KS: fitted on the odd-indexed records, measured on the even ones and
   * the other way round, averaged. What selection compares (the empirical distribution has in-sample
   * KS 0 by construction, so in-sample KS would always pick it). null where not computed.
   */
  cvKs: number | null
  /** Log-likelihood of the data (null for the empirical distribution and where not defined). */
  logLikelihood: number | null
  qq: QqPoint[]
}

export interface FitResult<D> {
  chosen: D
  /** Index into candidates of the chosen one. */
  chosenIndex: number
  /** How the choice was made, in words, with the numbers. */
  reason: string
  candidates: Array<CandidateFit<D>>
  /** Observations the fit used. */
  n: number
}

export type LengthFit = FitResult<LengthDistribution>

/**
 * Gaps between arrivals in operational time (where the time-of-day profile is flattened to rate
 * 1): 'poisson' exponential(1); 'gamma' Gamma(shape, 1/shape), CV 1/√shape; 'mmpp2' a two-state
 * Markov-modulated Poisson process: rate multipliers `rates` (stationary mean 1) and switching
 * rates `switchRates` (state 0 → 1, state 1 → 0), per unit of operational time.
 */
export type GapProcess =
  | { kind: 'poisson' }
  | { kind: 'gamma'; shape: number }
  | { kind: 'mmpp2'; rates: [number, number]; switchRates: [number, number] }

export interface ArrivalModel {
  /** Arrivals per minute, one per minute of the log (the last one scaled up from its part-minute). */
  ratePerMinute: number[]
  /** Length of the profile in ms (the log's duration); the sampler cycles through it. */
  periodMs: number
  /** Mean arrival rate over the profile, per second. */
  meanRatePerSec: number
  /** Coefficient of variation of the raw gaps, and of the gaps after flattening the profile. */
  gapCv: number
  rescaledGapCv: number
  /** Lag-1 autocorrelation of the flattened gaps (positive for bursty, clustered traffic). */
  lag1Autocorrelation: number
  process: FitResult<GapProcess>
  /** What one arrival is: a request, or the start of a session (then turns follow, see sessions). */
  unit: 'request' | 'session'
}

export interface ClassModel {
  /** Stable identifier, e.g. "endpoint=/v1/chat/completions|intent=code". "all" when no labels. */
  key: string
  /** The labels every request of this class carries (region, client_type, intent, ...). */
  labels: Record<string, string>
  /** Share of arrivals (requests, or sessions when the model has sessions) in this class. */
  weight: number
  /** Number of records (or sessions) of the class in the log. */
  count: number
  endpoint: WorkloadEndpoint
  /** Fraction of streamed requests; null when the log does not say. */
  streamRatio: number | null
  /** Own fits when the class had enough records (FitOptions.minClassRecords), else null: use the model's overall fits. */
  input: LengthFit | null
  output: LengthFit | null
}

export interface SessionModel {
  /** Sessions in the log, and the turns per session distribution (min 1). */
  count: number
  turns: LengthFit
  /** Milliseconds between the end of a turn's arrival and the next turn's arrival of the same session. */
  thinkTimeMs: LengthFit
  /**
   * 'accumulate': turn k's input is turn k−1's input + output + new tokens (a chat that resends its
   * history); 'independent': every turn draws a fresh input length.
   */
  contextMode: 'accumulate' | 'independent'
  /** New input tokens per later turn (accumulate mode). */
  growthTokens: LengthFit | null
  /** Mean share of a later turn's input that repeats the previous turn's context (0..1). */
  prefixReuse: number
}

export interface WorkloadModel {
  schema: 'loadmesh.workload-model/v1'
  source: {
    file: string
    format: WorkloadLogFormat
    records: number
    durationMs: number
    startedAt: string | null
    attribution?: string
  }
  /** Selection rule, in words (also in docs/workload.md). */
  selection: string
  /** Fits over all records; classes without their own fits use these. */
  input: LengthFit
  output: LengthFit
  arrivals: ArrivalModel
  classes: ClassModel[]
  sessions: SessionModel | null
}

export interface FitOptions {
  /** A class gets its own length fits from this many records up (default 500). */
  minClassRecords?: number
  /** Largest mixture tried (default 6 components, negative binomials at most 4; mixtures of 2..max are candidates). */
  maxMixtureComponents?: number
  /** More classes than this (distinct label combinations) is refused (default 200). */
  maxClasses?: number
  /**
   * Class dimensions to split by ('endpoint', 'intent', 'client_type', 'region', any class label);
   * default: every dimension present in the log.
   */
  classBy?: string[]
  /** Attribution to record in the model (e.g. the data set's licence). */
  attribution?: string
  /** Progress lines (the CLI prints them on stderr). */
  onProgress?: (message: string) => void
}

export interface ModelOverrides {
  /** Arrival-rate multiplier (3 = three times the rate, same time-of-day shape). */
  rateScale?: number
  /** Input-length multiplier (2 = inputs twice as long). */
  inputScale?: number
  outputScale?: number
}

export interface SampledRequest {
  /** Milliseconds since the previous request (since the sampler's start for the first). */
  gapMs: number
  endpoint: WorkloadEndpoint
  /** null: the log did not say, use the run's default. */
  stream: boolean | null
  inputTokens: number
  outputTokens: number
  classes: Record<string, string>
  sessionId: string | null
  turn: number | null
  /** Importance weight (1 unless a later stage oversamples). */
  weight: number
}

export interface ModelSampler {
  next(): SampledRequest
}
