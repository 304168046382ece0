import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { prepareMeshRuns, rehearseSendPath } from '@loadmesh/agent'
import { systemClock } from '@loadmesh/clock'
import { createSimulator } from '@loadmesh/simulator'
import type { Simulator } from '@loadmesh/simulator'
import type { MeshLogger } from '@loadmesh/mesh'
import { UsageError } from '../exit-codes.ts'
import { formatFlags, REHEARSE_FLAGS, SIM_ENGINE_FLAGS } from '../options.ts'
import type { FlagDoc } from '../options.ts'
import type { Io } from '../io.ts'
import { MESH_FLAGS } from '../mesh/mesh-flags.ts'
import { connectMesh } from '../mesh/mesh-connect.ts'
import type { MeshSession } from '../mesh/mesh-connect.ts'
import { prometheusText } from '../mesh/prometheus.ts'
import { parseFlags } from './flags.ts'
import { SIM_MODEL } from './rehearse.ts'
import { simulatorSetupFromFlags } from './simulate.ts'

const AGENT_FLAGS: FlagDoc[] = [
  ...MESH_FLAGS,
  { name: 'weight', type: 'string', arg: 'W', help: 'declared capacity: the share of the load is proportional to it (default 1)' },
  { name: 'controllers', type: 'string', arg: 'IDS', help: 'peer ids allowed to start/stop runs, comma-separated (default: any swarm member)' },
  { name: 'max-rate', type: 'string', arg: 'R', help: 'this agent\'s ceiling in requests/s; arrivals over it are dropped and counted' },
  { name: 'api-key', type: 'string', arg: 'KEY', help: 'Bearer token sent to the target (default $OPENAI_API_KEY); never gossiped' },
  { name: 'metrics-port', type: 'string', arg: 'P', help: 'serve Prometheus metrics (loadmesh_*) on this port' },
  { name: 'metrics-host', type: 'string', arg: 'ADDR', help: 'address for --metrics-port (default 0.0.0.0)' },
  { name: 'simulator', type: 'boolean', help: 'also serve the embedded LLM simulator (prints its URL)' },
  { name: 'sim-port', type: 'string', arg: 'P', help: 'simulator port (default 8000; 0 = any free port)' },
  { name: 'sim-host', type: 'string', arg: 'ADDR', help: 'simulator address (default 127.0.0.1)' },
  ...REHEARSE_FLAGS,
  // The simulator's engine, as `simulate` and `rehearse` take it (only with --simulator).
  ...SIM_ENGINE_FLAGS,
  { name: 'verbose', type: 'boolean', short: 'v', help: 'also log debug events' },
  { name: 'help', type: 'boolean', short: 'h', help: 'show help' }
]

export const AGENT_HELP = `loadmesh agent --seeds LIST --swarm-key FILE [flags]

A long-running mesh agent: joins the mesh, carries its share of every run a controller publishes,
and gossips its results. Logs one line per event on stderr; stops on SIGINT / SIGTERM.

${formatFlags(AGENT_FLAGS)}`

export async function agentCommand (argv: string[], io: Io): Promise<number> {
  const v = await parseFlags(argv, AGENT_FLAGS)
  if (v.help === true) { io.stdout.write(AGENT_HELP + '\n'); return 0 }
  const num = (name: string): number | undefined => {
    const t = v[name] as string | undefined
    if (t === undefined) return undefined
    const n = Number(t)
    if (t.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name}: "${t}" is not a positive number`)
    return n
  }
  const port = (name: string, def: number): number => {
    const t = v[name] as string | undefined
    const n = t === undefined ? def : Number(t)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name}: "${String(t)}" is not a port number`)
    return n
  }
  const weight = num('weight')
  const maxRate = num('max-rate')
  const metricsPort = v['metrics-port'] !== undefined ? port('metrics-port', 0) : undefined
  const simPort = port('sim-port', 8000)
  const controllers = ((v.controllers as string | undefined) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const ts = (): string => new Date().toISOString()
  const line = (level: string, fields: Record<string, unknown>, msg: string): void => {
    const kv = Object.entries(fields).map(([k, x]) => `${k}=${typeof x === 'string' ? x : JSON.stringify(x)}`).join(' ')
    io.stderr.write(`${ts()} ${level} ${msg}${kv !== '' ? ` ${kv}` : ''}\n`)
  }
  const logger: MeshLogger = {
    debug: (f, m) => { if (v.verbose === true) line('debug', f, m) },
    info: (f, m) => line('info', f, m),
    warn: (f, m) => line('warn', f, m)
  }
  let sim: Simulator | undefined
  if (v.simulator === true) {
    const setup = await simulatorSetupFromFlags(v)
    sim = createSimulator({
      host: (v['sim-host'] as string | undefined) ?? '127.0.0.1',
      port: simPort,
      seed: 1,
      models: [SIM_MODEL],
      engine: setup.engine,
      faults: setup.faults,
      tokensPerChunk: setup.tokensPerChunk
    })
    const { url } = await sim.start()
    io.stderr.write(`loadmesh simulator listening on ${url} (${setup.label})\n`)
  } else {
    const given = [...REHEARSE_FLAGS, ...SIM_ENGINE_FLAGS].find((f) => v[f.name] !== undefined)
    if (given !== undefined) throw new UsageError(`--${given.name}: configures the embedded simulator; add --simulator`)
  }
  // Before joining: what a first run would otherwise build when its plan arrives (the tokenizer,
  // the prompt pool, codecs, the alarm thread; ~0.4 s of CPU), which on a shared host delayed the
  // plan's relays and every agent's first send, and one pass over the send path so that a first
  // run's first requests do not run cold code. Done later, it would land on the joining itself.
  prepareMeshRuns()
  // And keeps it compiled. V8 drops the bytecode (and the type feedback) of a function that has
  // not run for 6 major collections; an agent idles between runs, and at 16 agents on 2 cores
  // the busier ones collect that often within a minute (traced: 1,560, then 740 functions dropped
  // at once). Their next T0 then parsed and compiled its send path again, in the interpreter with
  // no feedback (perf, at T0 - 2 ms: the waker's check in V8's parser). The cost is the bytecode
  // of functions that ran once: the agents' live heaps after a full collection were 39-63 MB with
  // flushing and without (16 agents, one run each).
  setFlagsFromString('--no-flush-bytecode')
  try {
    const r = await rehearseSendPath(systemClock())
    if (v.verbose === true) line('debug', { requests: r.completed, runs: r.runs, ms: Math.round(r.ms) }, 'send path rehearsed')
  } catch (err) {
    // Only a warm-up: the agent works without it.
    line('warn', { error: (err as Error).message }, 'send path rehearsal failed')
  }
  let session: MeshSession
  try {
    session = await connectMesh(v, { role: 'agent', logger, weight, maxRate, controllers, apiKey: (v['api-key'] as string | undefined) ?? io.env.OPENAI_API_KEY })
  } catch (err) {
    await sim?.stop()
    throw err
  }
  const { agent, node } = session
  const unsub = agent.membership().onChange((c) => {
    if (c.current.self) return
    const was = c.previous?.state ?? null
    const now = c.current.state
    if (was === now) return
    const what = now === 'alive' ? (was === null || was === 'dead' ? 'joined' : 'is back') : now === 'suspect' ? 'is suspect' : 'left (dead)'
    line('info', { peer: c.peer_id, role: c.current.role }, `member ${what}`)
  })
  let lastRun = ''
  let lastPhase = ''
  let refusals = 0
  const watch = setInterval(() => {
    const run = agent.currentRun()
    if (run !== null) {
      const st = run.status()
      if (run.runId !== lastRun || st.phase !== lastPhase) {
        if (st.phase === 'done') line('info', { run_id: run.runId, sent: st.sent, completed: st.completed, failed: st.failed, dropped: st.dropped }, 'run ended')
        else if (run.runId !== lastRun) line('info', { run_id: run.runId }, 'run started')
        lastRun = run.runId
        lastPhase = st.phase
      }
    }
    const r = agent.stats().refusals
    for (; refusals < r.length; refusals++) line('warn', { run_id: r[refusals].run_id, reason: r[refusals].reason }, 'run refused')
  }, 250)
  let metrics: Server | undefined
  if (metricsPort !== undefined) {
    const srv = createServer((req, res) => {
      if (req.url !== '/metrics') { res.writeHead(404).end('not found\n'); return }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(prometheusText(agent, node))
    })
    metrics = srv
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(metricsPort, (v['metrics-host'] as string | undefined) ?? '0.0.0.0', () => resolve())
    })
    io.stderr.write(`metrics on http://${(v['metrics-host'] as string | undefined) ?? '0.0.0.0'}:${(srv.address() as AddressInfo).port}/metrics\n`)
  }
  io.stderr.write(`loadmesh agent ${node.peerId} listening on ${node.addresses().join(',')}\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => { io.offInterrupt(stop); process.off('disconnect', stop); resolve() }
    io.onInterrupt(stop)
    // Started by `rehearse --agents` with an IPC channel: stop when the parent goes away.
    if (process.send !== undefined) process.on('disconnect', stop)
  })
  line('info', {}, 'stopping')
  clearInterval(watch)
  unsub()
  await new Promise<void>((resolve) => { if (metrics === undefined) resolve(); else metrics.close(() => resolve()) })
  await session.close()
  await sim?.stop()
  return 0
}
