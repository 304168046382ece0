// The LLM simulator (packages/simulator) as a pinned process for the simulator-scale suite: the
// fixed engine, one token per SSE chunk; reports its port, then serves until killed.
import { createSimulator } from '@loadmesh/simulator'
import { countTokens, prepareTokenizer } from '@loadmesh/workload'
import { workerMain } from '../worker-protocol.ts'

export interface SimulatorServerConfig {
  deadlineMs: number
  ttftMs: number
  itlMs: number
  tokensPerChunk: number
  seed: string
  /**
   * A completion whose prompt is exactly this runs a full garbage collection in the server first
   * (the process runs with --expose-gc), so the client's memory snapshots count live memory only.
   */
  gcPrompt: string
}

workerMain<SimulatorServerConfig>(async (c, { ready }) => {
  const gc = (globalThis as { gc?: () => void }).gc
  prepareTokenizer()
  const sim = createSimulator({
    seed: c.seed,
    engine: { ttft: `${c.ttftMs}ms`, itl: `${c.itlMs}ms` },
    tokensPerChunk: c.tokensPerChunk,
    keepAliveTimeoutMs: 600_000,
    countPromptTokens: (text) => {
      if (text === c.gcPrompt && gc !== undefined) gc()
      return countTokens(text)
    }
  })
  const { port } = await sim.start()
  ready(port)
  await new Promise<never>(() => { /* serves until killed */ })
})
