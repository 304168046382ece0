import type { LoopResult } from '@loadmesh/injector'
import type { Summary } from '@loadmesh/metrics'

/** What the loadmesh client worker is told to do. */
export type LoadmeshClientConfig = {
  deadlineMs: number
  baseUrl: string
  stream: boolean
  connections: number
  warmupMs: number
  durationMs: number
  seed: string
} & ({ mode: 'closed'; concurrency: number } | { mode: 'open'; rate: number; maxInFlight: number })

/** The measured phase of a loadmesh client worker. */
export interface LoadmeshClientResult {
  /** From the schedule's start to the last request settled. */
  wallMs: number
  /** User + system CPU of the worker process over the measured phase. */
  cpuMs: number
  loop: LoopResult
  scheduled: number
  sent: number
  completed: number
  failed: number
  dropped: number
  errors: Record<string, number>
  contentChunks: number
  outputTokens: number
  scheduleLagMs: Summary
  eventLoopDelayMs: { p50: number | null; p99: number | null; max: number | null }
  firstError: string | null
}

/** The measured phase of a baseline client worker (autocannon, raw reader). */
export interface BaselineClientResult {
  wallMs: number
  cpuMs: number
  /** Responses that completed (2xx for autocannon). */
  completed: number
  /** Failures of any kind (errors, timeouts, non-2xx). */
  failed: number
  /** SSE events (raw reader only). */
  events?: number
}
