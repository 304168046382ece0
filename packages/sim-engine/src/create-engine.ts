import type { Engine, EngineContext } from './engine-types.ts'
import { ProfileError } from './errors.ts'
import { kvBytesPerToken, kvCacheBlocks, parseProfile, weightBytes } from './profile.ts'
import type { Profile, StepProfile } from './profile.ts'
import { createStepEngine } from './step-engine.ts'
import type { Routing } from './step-engine.ts'
import { createStepCost } from './step-cost.ts'

export interface EngineOptions {
  /** Simulated replicas behind the one endpoint (default 1). */
  replicas?: number
  /** How requests pick a replica (default round-robin). */
  routing?: Routing
  /** Per-replica queue limit: a request that would wait behind this many is refused with 503 at once. */
  maxWaiting?: number
}

/**
 * The step-loop engine a profile describes. The `fixed` profile is the server's own fixed engine
 * (--sim-ttft / --sim-itl), so it is refused here with a ProfileError.
 */
export function createEngineFromProfile(profile: Profile, ctx: EngineContext, opts: EngineOptions = {}): Engine {
  const p = stepProfile(profile)
  return createStepEngine(p, ctx, opts)
}

/** What a step profile works out to: memory, KV capacity and the coefficients fit mode solved. */
export interface ProfileCapacity {
  weightsGiB: number
  kvBytesPerToken: number
  kvBlocks: number
  kvTokens: number
  /** Largest prompt + output accepted: the model's limit, or the KV capacity when smaller. */
  maxModelLen: number
  apiOverheadMs: number
  /** Fit mode: the linear coefficients solved from the table (null for the other modes). */
  fitted: { t0_ms: number; t_seq_ms: number; t_token_ms: number; t_kv_ms_per_1k: number; api_overhead_ms: number } | null
}

export function profileCapacity(profile: Profile): ProfileCapacity {
  const p = stepProfile(profile)
  const blocks = kvCacheBlocks(p)
  const kvTokens = blocks * p.scheduler.block_tokens
  const cost = createStepCost(p)
  return {
    weightsGiB: weightBytes(p.model) / 2 ** 30,
    kvBytesPerToken: kvBytesPerToken(p.model),
    kvBlocks: blocks,
    kvTokens,
    maxModelLen: Math.min(p.model.max_model_len, kvTokens),
    apiOverheadMs: cost.apiOverheadMs,
    fitted: cost.fitted === undefined
      ? null
      : {
          t0_ms: cost.fitted.t0_ms,
          t_seq_ms: cost.fitted.t_seq_ms,
          t_token_ms: cost.fitted.t_token_ms,
          t_kv_ms_per_1k: cost.fitted.t_kv_ms_per_1k,
          api_overhead_ms: cost.fitted.api_overhead_ms
        }
  }
}

function stepProfile(profile: Profile): StepProfile {
  const name = typeof profile?.name === 'string' ? profile.name : 'object'
  const p = parseProfile(profile, `"${name}"`)
  if (p.engine === 'fixed') {
    throw new ProfileError(`profile "${p.name}": engine "fixed" is the server's fixed-latency engine (--sim-ttft, --sim-itl); only "step" profiles build a step engine`)
  }
  return p
}
