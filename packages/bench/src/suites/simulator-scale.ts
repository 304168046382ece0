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

/**
 * The suite's rows, with what results.ts's SimulatorScaleRow does not have yet (optional, so results
 * written before these fields existed still render).
 */
export interface SimulatorScaleRowDetail extends SimulatorScaleRow {
  /** light: the server keeps up at one token per frame; overload: it cannot, and frames merge; floor: the bare writer. */
  load?: 'light' | 'overload' | 'floor'
  /** Token-carrying frames (socket writes) per second, from the server's loadmesh_sim_stream_frames_total. */
  frames_per_s?: number | null
  tokens_per_frame?: number | null
  /** Probe streams (a sample of the N, timed at the client): gap between content frames, and per token. */
  probe_streams?: number | null
  client_chunk_gap_p50_ms?: number | null
  client_chunk_gap_p99_ms?: number | null
  client_itl_p50_ms?: number | null
  client_itl_p99_ms?: number | null
}

interface RowSpec {
  name: string
  load: 'light' | 'overload' | 'floor'
  /** Long enough that every stream is open before the first ones produce tokens. */
  ttftMs: number
  target: 'simulator' | 'raw'
  streams: number
  itlMs: number
}

/**
 * Light rows offer 20,000 tokens/s (streams x 1000 / ITL), which one core writes one token per frame;
 * overload rows offer 250,000 tokens/s, above the goal and above what one write per token can do
 * (~50k writes per CPU-second on loopback), so the server falls behind and merges each stream's
 * pending tokens into one frame per tick. The bare writer at the goal rate is the floor: one write
 * per token, nothing else. The whole suite stays under 3 minutes (opening 10k streams is most of it).
 */
const ROWS: RowSpec[] = [
  { name: 'simulator, 1k streams, light load', load: 'light', target: 'simulator', ttftMs: 3000, streams: 1000, itlMs: 50 },
  { name: 'simulator, 1k streams, overload', load: 'overload', target: 'simulator', ttftMs: 3000, streams: 1000, itlMs: 4 },
  { name: 'simulator, 10k streams, light load', load: 'light', target: 'simulator', ttftMs: 12_000, streams: 10_000, itlMs: 500 },
  { name: 'simulator, 10k streams, overload', load: 'overload', target: 'simulator', ttftMs: 12_000, streams: 10_000, itlMs: 40 },
  // 1k streams: the cost of a write barely depends on how many sockets are open, and 10k would add a minute.
  { name: 'raw frame writer, 1k streams', load: 'floor', target: 'raw', ttftMs: 3000, streams: 1000, itlMs: 5 }
]
/** Probe streams per row (timed and parsed at the client; the rest are only counted). */
const PROBES = 200

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
  const rows: SimulatorScaleRowDetail[] = []
  for (const spec of ROWS) rows.push(await measureRow(ctx, spec))
  const ok = (r: SimulatorScaleRowDetail): boolean => r.target === 'simulator' && r.status === 'ok'
  const over10k = rows.find((r) => ok(r) && r.load === 'overload' && r.streams === GOAL_STREAMS)
  const light = rows.filter((r) => ok(r) && r.load === 'light')
  return {
    ...base,
    status: rows.some((r) => r.status === 'ok') ? 'ok' : 'failed',
    note: null,
    rows,
    goals: [
      { description: `${GOAL_STREAMS.toLocaleString('en-US')} concurrent streams held by one simulator process`, met: over10k === undefined ? null : over10k.held === GOAL_STREAMS && over10k.lost === 0 },
      {
        description: `≥ ${GOAL_TOKENS_PER_CPU_S.toLocaleString('en-US')} emitted tokens per CPU-second of the simulator at 10k streams under overload (frames merge, as vLLM's do)`,
        met: over10k?.tokens_per_cpu_s == null ? null : over10k.tokens_per_cpu_s >= GOAL_TOKENS_PER_CPU_S
      },
      {
        description: `≥ ${GOAL_TOKENS_PER_CPU_S.toLocaleString('en-US')} emitted tokens per CPU-second at one token per frame (light load: one socket write per token)`,
        met: light.length === 0 ? null : light.every((r) => (r.tokens_per_cpu_s ?? 0) >= GOAL_TOKENS_PER_CPU_S)
      },
      { description: `≤ ${GOAL_KIB_PER_STREAM} KiB of memory (RSS) per open stream at 10k streams`, met: over10k?.rss_kib_per_stream == null ? null : over10k.rss_kib_per_stream <= GOAL_KIB_PER_STREAM }
    ]
  }
}

async function measureRow(ctx: BenchContext, spec: RowSpec): Promise<SimulatorScaleRowDetail> {
  const row: SimulatorScaleRowDetail = {
    name: spec.name, load: spec.load, target: spec.target, status: 'failed', note: null, streams: spec.streams, itl_ms: spec.itlMs, tokens_per_chunk: 1,
    offered_tokens_per_s: (spec.streams * 1000) / spec.itlMs, held: null, lost: null, open_s: null, tokens_per_s: null, tokens_per_cpu_s: null,
    writes_per_cpu_s: null, server_cpu_util: null, rss_kib_per_stream: null, heap_kib_per_stream: null, event_loop_lag_p99_ms: null,
    event_loop_lag_max_ms: null, backpressure: null, client_cpu_util: null, client_events_per_s: null, core_usage: null,
    frames_per_s: null, tokens_per_frame: null, probe_streams: null, client_chunk_gap_p50_ms: null, client_chunk_gap_p99_ms: null,
    client_itl_p50_ms: null, client_itl_p99_ms: null
  }
  ctx.log(`  ${spec.name}: ITL ${spec.itlMs} ms, ${fmtInt(row.offered_tokens_per_s)} tokens/s offered`)
  const deadlineMs = 10 * 60_000
  let server: ServerWorker
  try {
    if (spec.target === 'simulator') {
      const config: SimulatorServerConfig = { deadlineMs, ttftMs: spec.ttftMs, itlMs: spec.itlMs, tokensPerChunk: 1, seed: ctx.seed, gcPrompt: GC_PROMPT }
      server = await startServerWorker(ctx.registry, workerPath('simulator-server.ts'), config, {
        core: TARGET_CORE, timeoutMs: 20_000, execArgv: ['--expose-gc', ...profileArgs(ctx, `simulator-scale-${spec.streams}-${spec.load}`)]
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
    // Enough tokens that no stream ends before the measurement does, however long the streams take to
    // open (the simulator caps at max_model_len).
    const openTimeoutMs = 120_000
    const firstEventTimeoutMs = spec.ttftMs + 60_000
    const maxTokens = Math.min(100_000, Math.ceil((openTimeoutMs + firstEventTimeoutMs + ctx.warmupMs + ctx.durationMs + 30_000) / spec.itlMs))
    const config: SseStreamsClientConfig = {
      deadlineMs: deadlineMs - 30_000, port: server.port, streams: spec.streams, wave: 500, maxTokens,
      openTimeoutMs, firstEventTimeoutMs, warmupMs: ctx.warmupMs, durationMs: ctx.durationMs, gcPrompt: GC_PROMPT,
      probes: PROBES
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
    // One socket write per token-carrying frame.
    const frames = e.frames - s.frames
    row.writes_per_cpu_s = cpuS > 0 ? frames / cpuS : null
    row.frames_per_s = frames / wallS
    row.tokens_per_frame = frames > 0 ? tokens / frames : null
    row.probe_streams = r.probes
    row.client_chunk_gap_p50_ms = r.chunkGapP50Ms
    row.client_chunk_gap_p99_ms = r.chunkGapP99Ms
    row.client_itl_p50_ms = r.itlP50Ms
    row.client_itl_p99_ms = r.itlP99Ms
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
      `(server CPU ${fmtPct(row.server_cpu_util)}, client CPU ${fmtPct(row.client_cpu_util)}); ${fmtInt(row.frames_per_s)} frames/s, ${fmtFixed(row.tokens_per_frame, 2)} tokens/frame; ` +
      `client ITL p50/p99 ${fmtFixed(row.client_itl_p50_ms, 1)}/${fmtFixed(row.client_itl_p99_ms, 1)} ms, frame gap p50/p99 ${fmtFixed(row.client_chunk_gap_p50_ms, 1)}/${fmtFixed(row.client_chunk_gap_p99_ms, 1)} ms; ` +
      `${fmtFixed(row.rss_kib_per_stream, 1)} KiB RSS and ${fmtFixed(row.heap_kib_per_stream, 1)} KiB heap per stream; loop lag p99 ${fmtFixed(row.event_loop_lag_p99_ms, 1)} ms`)
  } catch (err) {
    row.note = errorText(err)
    ctx.log(`    FAILED: ${row.note}`)
  } finally {
    await server.stop()
  }
  return row
}

const HEADER = [
  'row', 'streams held', 'ITL ms', 'offered tok/s', 'tokens/s', 'tokens per server CPU-s', 'frames (writes)/s', 'writes per server CPU-s', 'tokens/frame',
  'client ITL p50 / p99 ms', 'client frame gap p50 / p99 ms', 'server CPU', 'KiB/stream RSS', 'KiB/stream heap', 'loop lag p99 / max ms', 'client CPU', 'other work core 0 / 1'
]

function cells(row: SimulatorScaleRow): string[] {
  const r = row as SimulatorScaleRowDetail
  if (r.status !== 'ok') return [r.name, r.status, fmtInt(r.itl_ms), fmtInt(r.offered_tokens_per_s), ...HEADER.slice(4).map(() => '')]
  const pct1 = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`)
  const pair = (a: number | null | undefined, b: number | null | undefined): string => `${fmtFixed(a, 1)} / ${fmtFixed(b, 1)}`
  return [
    r.name, `${fmtInt(r.held)} / ${fmtInt(r.streams)}`, fmtInt(r.itl_ms), fmtInt(r.offered_tokens_per_s), fmtInt(r.tokens_per_s), fmtInt(r.tokens_per_cpu_s),
    fmtInt(r.frames_per_s), fmtInt(r.writes_per_cpu_s), fmtFixed(r.tokens_per_frame, 2),
    pair(r.client_itl_p50_ms, r.client_itl_p99_ms), pair(r.client_chunk_gap_p50_ms, r.client_chunk_gap_p99_ms),
    fmtPct(r.server_cpu_util), fmtFixed(r.rss_kib_per_stream, 1), fmtFixed(r.heap_kib_per_stream, 1),
    pair(r.event_loop_lag_p99_ms, r.event_loop_lag_max_ms), fmtPct(r.client_cpu_util),
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
    'What it measures: the LLM simulator (`loadmesh simulate`, fixed engine, 1 token per frame configured) alone on core 1,',
    'holding N streaming chat requests open at once for a raw-socket client on core 0 (keep-alive sockets, one pre-built request',
    'each, SSE event ends counted). The TTFT is long (seconds) so that every stream is open before tokens flow; the measurement',
    'starts once all have their first token. The server\'s cost comes from its own `/metrics`: `process_cpu_seconds_total` over the',
    'measured phase (so "per server CPU-s" is the simulator\'s, not the client\'s), `loadmesh_sim_stream_frames_total` (token-carrying',
    'frames, one socket write each), RSS and heap after a forced GC with no stream open and with all N open (their difference over N',
    `is the memory per stream), and the event-loop lag gauge. ${PROBES} probe streams per row are also timed at the client: the gap`,
    'between content frames (what vLLM\'s benchmark calls ITL) and per token (a frame\'s gap shared over its tokens).',
    '',
    'Light rows offer 20,000 tokens/s: the simulator keeps up at one token per frame, so the client sees the configured ITL.',
    'Overload rows offer 250,000 tokens/s, more than one socket write per token can carry on one core: the simulator falls',
    'behind, its engine keeps the model\'s timeline and releases every token due when its timer fires, and the server writes',
    'ONE frame per stream per engine tick with all its pending tokens (vLLM v1\'s output collector merges a request\'s pending',
    'deltas the same way). Frames grow instead of writes queueing. The last row is the floor: a bare `net` server writing the',
    'same ~190-byte one-token chunk at 200,000 tokens/s to 1k streams on a timing wheel, with no HTTP, JSON or engine: what one socket write per',
    `token costs on this machine. ${s.warmup_s} s warm-up after all streams are open, then ${s.duration_s} s measured.`,
    '',
    ...(s.status === 'ok' ? [] : [`**Suite ${s.status}**${s.note === null ? '.' : `: ${s.note}`}`, ''])
  ]
  if (s.rows.length > 0) {
    out.push(mdTable(HEADER, s.rows.map(cells)), '')
    const notes = s.rows.filter((r) => r.note !== null).map((r) => `- ${r.name}: ${r.note}`)
    if (notes.length > 0) out.push(...notes, '')
  }
  const rows = s.rows as SimulatorScaleRowDetail[]
  const raw = rows.find((r) => r.target === 'raw' && r.status === 'ok')
  const light = rows.find((r) => r.target === 'simulator' && r.load === 'light' && r.streams === GOAL_STREAMS && r.status === 'ok')
  const over = rows.find((r) => r.target === 'simulator' && r.load === 'overload' && r.streams === GOAL_STREAMS && r.status === 'ok')
  if (light?.client_itl_p50_ms != null && light.tokens_per_frame != null) {
    out.push(light.tokens_per_frame <= 1.05
      ? `At light load every frame carries one token and a client sees the configured ITL: p50 ${fmtFixed(light.client_itl_p50_ms, 1)} ms for ${fmtInt(light.itl_ms)} ms at 10k streams.`
      : `In this run even the light rows merged frames (${fmtFixed(light.tokens_per_frame, 2)} tokens per frame at 10k streams): the simulator's loop lagged ` +
        `(p99 ${fmtFixed(light.event_loop_lag_p99_ms, 0)} ms) because other work took its core, so its timers kept firing late. On a quiet machine these rows carry one token per frame.`, '')
  }
  if (raw?.writes_per_cpu_s != null && light?.writes_per_cpu_s != null) {
    const busy = over?.writes_per_cpu_s == null ? '' : ` (${fmtInt(over.writes_per_cpu_s)} under overload, where its loop never idles)`
    out.push(`At one token per frame the simulator does ${fmtInt(light.writes_per_cpu_s)} socket writes per CPU-second at 10k streams${busy} against the bare writer's ` +
      `${fmtInt(raw.writes_per_cpu_s)} at ${fmtInt(raw.streams)} streams: the write (the kernel's loopback TCP path) is the bulk ` +
      'of the cost, so one token per write cannot reach the tokens-per-CPU-second goal on this machine, whatever the simulator does above it.', '')
  }
  if (over?.tokens_per_frame != null && over.tokens_per_s != null) {
    out.push(`Under overload at 10k streams the simulator delivered ${fmtInt(over.tokens_per_s)} of the ${fmtInt(over.offered_tokens_per_s)} tokens/s offered ` +
      `in ${fmtInt(over.frames_per_s)} frames/s (${fmtFixed(over.tokens_per_frame, 1)} tokens per frame): the client sees fewer, larger chunks ` +
      `(frame gap p50 ${fmtFixed(over.client_chunk_gap_p50_ms, 0)} ms against the ${fmtInt(over.itl_ms)} ms ITL), as from an overloaded vLLM, while the token rate holds.`, '')
  }
  for (const g of s.goals) out.push(`**Goal:** ${g.description}. **${g.met === null ? 'not measured' : g.met ? 'met' : 'NOT met'}**.`)
  return out
}
