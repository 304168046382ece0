// The SSE (and fallback JSON) target as a pinned process; reports its port, then serves until
// killed or until the parent goes away.
import { startFastServer } from '../fast-server.ts'
import { workerMain } from '../worker-protocol.ts'

export interface FastServerConfig {
  deadlineMs: number
  contentChunks: number
  writes: number
}

workerMain<FastServerConfig>(async (c, { ready }) => {
  const server = await startFastServer({ contentChunks: c.contentChunks, writes: c.writes })
  ready(server.port)
  await new Promise<never>(() => { /* serves until killed */ })
})
