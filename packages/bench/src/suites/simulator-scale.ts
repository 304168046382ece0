import { loadavg } from 'node:os'
import { fmtFixed, fmtInt, fmtPct, mdTable, textTable } from '../format.ts'
import type { SimulatorScaleRow, SimulatorScaleSuite } from '../results.ts'
import { takenShare } from '../results.ts'
import { startServerWorker, workerPath } from '../worker-protocol.ts'
import type { ServerWorker } from '../worker-protocol.ts'
import type { RawFrameServerConfig } from '../workers/raw-frame-server.ts'
import type { SimulatorServerConfig } from '../workers/simulator-server.ts'
import type { SseStreamsClientConfig, SseStreamsClientResult } from '../workers/sse-streams-client.ts'
import { CLIENT_CORE, errorText, probeBothCores, profileArgs, runMeasuredWorker, TARGET_CORE } from './context.ts'
import type { BenchContext } from './context.ts'

const TITLE = 'LLM simulator at scale: concurrent streams, tokens per CPU-second, memory per stream'
const GC_PROMPT = '__loadmesh_bench_gc__'
export const GOAL_STREAMS = 10_000
export const GOAL_TOKENS_PER_CPU_S = 200_000
export const GOAL_KIB_PER_STREAM = 20

interface RowSpec {
  name: string
  /** Long enough that every stream is open before the first ones produce tokens. */
  ttftMs: number
  target: 'simulator' | 'raw'
  streams: number
  itlMs: number
  tokensPerChunk: number
}

/**
 * Every row offers 200,000 tokens/s (streams x 1000 / ITL): the goal rate, so a row that keeps up
 * meets the rate goal and one that does not shows where the core ran out.
 */
const ROWS: RowSpec[] = [
  { name: 'simulator, 1k streams', target: 'simulator', ttftMs: 3000, streams: 1000, itlMs: 5, tokensPerChunk: 1 },
  { name: 'simulator, 10k streams', target: 'simulator', ttftMs: 20_000, streams: 10_000, itlMs: 50, tokensPerChunk: 1 },
  { name: 'simulator, 10k streams, 4 tokens/chunk', target: 'simulator', ttftMs: 20_000, streams: 10_000, itlMs: 50, tokensPerChunk: 4 },
  { name: 'raw frame writer, 10k streams', target: 'raw', ttftMs: 20_000, streams: 10_000, itlMs: 50, tokensPerChunk: 1 }
]

/**
 * Suite: the simulator (packages/simulator, fixed engine) pinned to core 1, held open by a raw-socket
 * client on core 0 (sse-streams-client.ts) that keeps N streaming requests open at once and reads
 * the server's own /metrics: CPU seconds (so tokens per CPU-second is the server's, not the
 * client's), RSS and heap after a forced GC with and without the streams (memory per stream),
 * event-loop lag, backpressure. A bare `net` server that writes the same frames at the same rate
 * (raw-frame-server.ts) is the floor: what one write per token costs in this kernel.
 */
export async function runSimulatorScaleSuite(ctx: BenchContext): Promise<SimulatorScaleSuite> {
  ctx.log(`[simulator-scale] ${TITLE}`)
  const base = {
    id: 'simulator-scale' as const,
    title: TITLE,
    warmup_s: ctx.warmupMs / 1000,
    duration_s: ctx.durationMs / 1000,
    load_avg_start: loadavg()[0],
    cpu_probe: await probeBothCores(ctx)
  }
  const rows: SimulatorScaleRow[] = []
  for (const spec of ROWS) rows.push(await measureRow(ctx, spec))
  const sim10k = rows.find((r) => r.name === 'simulator, 10k streams' && r.status === 'ok')
  const perCpu = rows.filter((r) => r.target === 'simulator' && r.tokens_per_chunk === 1 && r.status === 'ok').map((r) => r.tokens_per_cpu_s ?? 0)
  return {
    ...base,
    status: rows.some((r) => r.status === 'ok') ? 'ok' : 'failed',
    note: null,
    rows,
    goals: [
      { description: `${GOAL_STREAMS.toLocaleString('en-US')} concurrent streams held by one simulator process`, met: sim10k === undefined ? null : sim10k.held === GOAL_STREAMS && sim10k.lost === 0 },
      { description: `≥ ${GOAL_TOKENS_PER_CPU_S.toLocaleString('en-US')} emitted tokens per CPU-second of the simulator, one token per chunk`, met: perCpu.length === 0 ? null : Math.min(...perCpu) >= GOAL_TOKENS_PER_CPU_S },
      { description: `≤ ${GOAL_KIB_PER_STREAM} KiB of memory (RSS) per open stream at 10k streams`, met: sim10k?.rss_kib_per_stream == null ? null : sim10k.rss_kib_per_stream <= GOAL_KIB_PER_STREAM }
    ]
  }
}

async function measureRow(ctx: BenchContext, spec: RowSpec): Promise<SimulatorScaleRow> {
  const row: SimulatorScaleRow = {
    name: spec.name, target: spec.target, status: 'failed', note: null, streams: spec.streams, itl_ms: spec.itlMs, tokens_per_chunk: spec.tokensPerChunk,
    offered_tokens_per_s: (spec.streams * 1000) / spec.itlMs, held: null, lost: null, open_s: null, tokens_per_s: null, tokens_per_cpu_s: null,
    writes_per_cpu_s: null, server_cpu_util: null, rss_kib_per_stream: null, heap_kib_per_stream: null, event_loop_lag_p99_ms: null,
    event_loop_lag_max_ms: null, backpressure: null, client_cpu_util: null, client_events_per_s: null, core_usage: null
  }
  ctx.log(`  ${spec.name}: ITL ${spec.itlMs} ms, ${spec.tokensPerChunk} token${spec.tokensPerChunk === 1 ? '' : 's'} per chunk, ${fmtInt(row.offered_tokens_per_s)} tokens/s offered`)
  const deadlineMs = 10 * 60_000
  let server: ServerWorker
  try {
    if (spec.target === 'simulator') {
      const config: SimulatorServerConfig = { deadlineMs, ttftMs: spec.ttftMs, itlMs: spec.itlMs, tokensPerChunk: spec.tokensPerChunk, seed: ctx.seed, gcPrompt: GC_PROMPT }
      server = await startServerWorker(ctx.registry, workerPath('simulator-server.ts'), config, {
        core: TARGET_CORE, timeoutMs: 20_000, execArgv: ['--expose-gc', ...profileArgs(ctx, `simulator-scale-${spec.streams}-${spec.tokensPerChunk}`)]
      })
    } else {
      const config: RawFrameServerConfig = { deadlineMs, ttftMs: spec.ttftMs, itlMs: spec.itlMs, gcPrompt: GC_PROMPT }
      server = await startServerWorker(ctx.registry, workerPath('raw-frame-server.ts'), config, { core: TARGET_CORE, timeoutMs: 20_000, execArgv: ['--expose-gc'] })
    }
  } catch (err) {
    row.note = `server failed to start: ${errorText(err)}`
    ctx.log(`    FAILED: ${row.note}`)
    return row
  }
  try {
    // Enough tokens that no stream ends before the measurement does (the simulator caps at max_model_len).
    const maxTokens = Math.min(100_000, Math.ceil((ctx.warmupMs + ctx.durationMs + 120_000) / spec.itlMs) * spec.tokensPerChunk)
    const config: SseStreamsClientConfig = {
      deadlineMs: deadlineMs - 30_000, port: server.port, streams: spec.streams, wave: 500, maxTokens,
      openTimeoutMs: 120_000, firstEventTimeoutMs: spec.ttftMs + 60_000, warmupMs: ctx.warmupMs, durationMs: ctx.durationMs, gcPrompt: GC_PROMPT
    }
    const { result: r, usage } = await runMeasuredWorker<SseStreamsClientResult>(ctx, 'sse-streams-client.ts', config, {
      core: CLIENT_CORE, timeoutMs: deadlineMs
    }, server.pid)
    const s = r.start
    const e = r.end
    const wallS = r.wallMs / 1000
    const cpuS = e.cpuS - s.cpuS
    const tokens = e.generationTokens - s.generationTokens
    row.status = 'ok'
    row.held = r.held
    row.lost = r.lost
    row.open_s = r.openMs / 1000
    row.tokens_per_s = tokens / wallS
    row.tokens_per_cpu_s = cpuS > 0 ? tokens / cpuS : null
    // One write per chunk: tokens / tokens per chunk.
    row.writes_per_cpu_s = cpuS > 0 ? tokens / spec.tokensPerChunk / cpuS : null
    row.server_cpu_util = cpuS / wallS
    const open = Math.max(1, r.held)
    row.rss_kib_per_stream = (r.open.rssBytes - r.idle.rssBytes) / open / 1024
    row.heap_kib_per_stream = (r.open.heapBytes - r.idle.heapBytes) / open / 1024
    row.event_loop_lag_p99_ms = e.lagP99S * 1000
    row.event_loop_lag_max_ms = e.lagMaxS * 1000
    row.backpressure = e.backpressure - s.backpressure
    row.client_cpu_util = r.cpuMs / r.wallMs
    row.client_events_per_s = r.events / wallS
    row.core_usage = usage
    const notes: string[] = []
    if (r.opened < r.streams) notes.push(`${r.streams - r.opened} of ${r.streams} streams were never answered`)
    if (r.held < r.opened) notes.push(`${r.opened - r.held} of ${r.opened} answered streams never got their first token`)
    if (r.lost > 0) notes.push(`${r.lost} streams closed early`)
    if ((row.client_cpu_util ?? 0) > 0.9) notes.push('the client core was saturated: the client may be what held the rate back')
    row.note = notes.length === 0 ? null : notes.join('; ')
    ctx.log(`    ${fmtInt(r.held)} streams held (opened in ${fmtFixed(row.open_s, 1)} s); ${fmtInt(row.tokens_per_s)} tokens/s, ${fmtInt(row.tokens_per_cpu_s)} per server CPU-second ` +
      `(server CPU ${fmtPct(row.server_cpu_util)}, client CPU ${fmtPct(row.client_cpu_util)}); ${fmtFixed(row.rss_kib_per_stream, 1)} KiB RSS and ` +
      `${fmtFixed(row.heap_kib_per_stream, 1)} KiB heap per stream; loop lag p99 ${fmtFixed(row.event_loop_lag_p99_ms, 1)} ms`)
  } catch (err) {
    row.note = errorText(err)
    ctx.log(`    FAILED: ${row.note}`)
  } finally {
    await server.stop()
  }
  return row
}

const HEADER = ['row', 'streams held', 'offered tok/s', 'tokens/s', 'tokens per server CPU-s', 'writes per server CPU-s', 'server CPU', 'KiB/stream RSS', 'KiB/stream heap', 'loop lag p99 / max ms', 'client CPU', 'other work core 0 / 1']

function cells(r: SimulatorScaleRow): string[] {
  if (r.status !== 'ok') return [r.name, r.status, fmtInt(r.offered_tokens_per_s), '', '', '', '', '', '', '', '', '']
  const pct1 = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`)
  return [
    r.name, `${fmtInt(r.held)} / ${fmtInt(r.streams)}`, fmtInt(r.offered_tokens_per_s), fmtInt(r.tokens_per_s), fmtInt(r.tokens_per_cpu_s), fmtInt(r.writes_per_cpu_s),
    fmtPct(r.server_cpu_util), fmtFixed(r.rss_kib_per_stream, 1), fmtFixed(r.heap_kib_per_stream, 1),
    `${fmtFixed(r.event_loop_lag_p99_ms, 1)} / ${fmtFixed(r.event_loop_lag_max_ms, 1)}`, fmtPct(r.client_cpu_util),
    `${pct1(takenShare(r.core_usage, 0))} / ${pct1(takenShare(r.core_usage, 1))}`
  ]
}

/** The suite's table and notes for the terminal. */
export function simulatorScaleText(s: SimulatorScaleSuite): string[] {
  const out: string[] = []
  if (s.rows.length > 0) out.push(textTable(HEADER, s.rows.map(cells)))
  for (const r of s.rows) if (r.note !== null) out.push(`  note: ${r.name}: ${r.note}`)
  return out
}

/** The suite's section of docs/benchmarks.md (heading number given by the caller). */
export function simulatorScaleSection(s: SimulatorScaleSuite, n: number): string[] {
  const out = [
    `## ${n}. ${s.title}`,
    '',
    'What it measures: the LLM simulator (`loadmesh simulate`, fixed engine) alone on core 1, holding N streaming chat',
    'requests open at once for a raw-socket client on core 0 (keep-alive sockets, one pre-built request each, SSE event ends',
    'counted, nothing parsed). The TTFT is long (seconds) so that every stream is open before tokens flow; the measurement',
    'starts once all have their first token. The server\'s cost comes from its own `/metrics`: `process_cpu_seconds_total` over the',
    'measured phase (so "per server CPU-s" is the simulator\'s, not the client\'s), RSS and heap after a forced GC with no',
    'stream open and with all N open (their difference over N is the memory per stream), and the event-loop lag gauge.',
    'Every row offers 200,000 tokens/s (N × 1000 / ITL). The last row is the floor: a bare `net` server writing the same',
    '~190-byte chunk at the same rate on a timing wheel, with no HTTP, JSON or engine: what one socket write per token costs',
    `on this machine. ${s.warmup_s} s warm-up after all streams are open, then ${s.duration_s} s measured.`,
    '',
    ...(s.status === 'ok' ? [] : [`**Suite ${s.status}**${s.note === null ? '.' : `: ${s.note}`}`, ''])
  ]
  if (s.rows.length > 0) {
    out.push(mdTable(HEADER, s.rows.map(cells)), '')
    const notes = s.rows.filter((r) => r.note !== null).map((r) => `- ${r.name}: ${r.note}`)
    if (notes.length > 0) out.push(...notes, '')
  }
  const raw = s.rows.find((r) => r.target === 'raw' && r.status === 'ok')
  const sim = s.rows.find((r) => r.name === 'simulator, 10k streams' && r.status === 'ok')
  if (raw?.writes_per_cpu_s != null && sim?.writes_per_cpu_s != null) {
    out.push(`At 10k streams the simulator does ${fmtInt(sim.writes_per_cpu_s)} socket writes per CPU-second against the bare writer's ${fmtInt(raw.writes_per_cpu_s)} ` +
      `(${Math.round((sim.writes_per_cpu_s / raw.writes_per_cpu_s) * 100)}%): one token per chunk costs one socket write, and the write (the kernel's loopback TCP path) is the bulk of the cost.`, '')
  }
  for (const g of s.goals) out.push(`**Goal:** ${g.description}. **${g.met === null ? 'not measured' : g.met ? 'met' : 'NOT met'}**.`)
  return out
}
