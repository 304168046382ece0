export type { Rng } from './rng.ts'
export { createRng } from './rng.ts'
export { WorkloadSpecError } from './errors.ts'
export {
  uniformOpen, uniformInt, sampleNormal, sampleExponential, sampleGamma, samplePoisson
} from './samplers.ts'
export { normalCdf, normalInvCdf, logGamma } from './special-functions.ts'
export type { ArrivalKind, ArrivalSpec, ArrivalProcess } from './arrivals.ts'
export { ARRIVAL_KINDS, createArrivalProcess, parseArrivalKind } from './arrivals.ts'
export type { LengthSpec, LengthKind, LengthSampler } from './length-spec.ts'
export {
  LENGTH_KINDS, DEFAULT_MIN_TOKENS, DEFAULT_MAX_TOKENS, MAX_LENGTH_TOKENS,
  parseLengthSpec, formatLengthSpec, createLengthSampler
} from './length-spec.ts'
export type { DurationSpec, DurationKind, DurationSampler } from './duration-spec.ts'
export { DURATION_KINDS, parseDurationSpec, formatDurationSpec, createDurationSampler } from './duration-spec.ts'
export { TOKENIZER, countTokens, prepareTokenizer } from './tokenizer.ts'
export type { PromptFactory, TextSource } from './prompt-factory.ts'
export { MAX_PROMPT_TOKENS, createPromptFactory, createTextSource, preparePromptPool } from './prompt-factory.ts'
export type { AdversarialKind, AdversarialOptions, AdversarialInput, AdversarialGenerator, AdversarialSpec } from './adversarial.ts'
export {
  ADVERSARIAL_KINDS, MAX_CONTEXT_ANSWER_TOKENS, createAdversarialGenerator, parseAdversarialSpec, formatAdversarialSpec
} from './adversarial.ts'
