import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { ELDHistogram, EventLoopUtilization } from 'node:perf_hooks'
import type { EngineStats, RequestTimings } from './engine.ts'
import { header, Histogram, labelValue, oneTwoFive, sample } from './prometheus.ts'

/** vLLM's TTFT buckets (seconds). */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
/** vLLM's inter-token buckets, with 1, 2.5 and 5 ms in front: simulated ITLs are often below vLLM's first bucket. */
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]
/** vLLM's request-latency buckets (e2e, queue, prefill, decode), seconds. */
const REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]

export type FinishedReason = 'stop' | 'length' | 'abort' | 'error'

/**
 * The simulator's /metrics: vLLM's names (labels model_name and engine="0", the simulator presenting
 * itself as one vLLM engine), per-replica gauges under loadmesh_sim_replica_*, and the simulator's
 * own health (event-loop lag and utilisation, open streams, backpressure, faults). Observations are
 * bucket increments; the text is built only when scraped.
 */
export class SimMetrics {
  readonly ttft = new Histogram(TTFT_BUCKETS)
  readonly itl = new Histogram(ITL_BUCKETS)
  readonly tpot = new Histogram(ITL_BUCKETS)
  readonly e2e = new Histogram(REQUEST_BUCKETS)
  readonly queue = new Histogram(REQUEST_BUCKETS)
  readonly prefill = new Histogram(REQUEST_BUCKETS)
  readonly decode = new Histogram(REQUEST_BUCKETS)
  readonly promptTokens: Histogram
  readonly generationTokens: Histogram
  readonly finished: Record<FinishedReason, number> = { stop: 0, length: 0, abort: 0, error: 0 }
  /** res.write returned false: a client (or the loopback) could not keep up. */
  backpressure = 0
  /** Token-carrying SSE frames written (one socket write each): tokens / frames is the coalescing. */
  frames = 0
  openStreams = 0
  private readonly labels: string
  private readonly lag: ELDHistogram
  private elu: EventLoopUtilization | undefined

  constructor(model: string, maxModelLen: number) {
    this.labels = `model_name="${labelValue(model)}",engine="0"`
    const tokenBuckets = oneTwoFive(maxModelLen)
    this.promptTokens = new Histogram(tokenBuckets)
    this.generationTokens = new Histogram(tokenBuckets)
    this.lag = monitorEventLoopDelay({ resolution: 10 })
  }

  start(): void {
    this.lag.enable()
    this.elu = performance.eventLoopUtilization()
  }

  stop(): void {
    this.lag.disable()
  }

  /** A finished request's engine-side split (queue, prefill, decode), when the engine reports it. */
  timings(t: RequestTimings): void {
    this.queue.observe(t.queueMs / 1000)
    this.prefill.observe(t.prefillMs / 1000)
    this.decode.observe(t.decodeMs / 1000)
  }

  /**
   * The exposition. Event-loop lag and utilisation cover the time since the previous scrape (the
   * lag histogram is reset), so a scraper sees what the simulator's loop went through meanwhile.
   */
  render(stats: EngineStats, faults: ReadonlyMap<string, number>): string {
    const L = this.labels
    let s = ''
    s += header('vllm:num_requests_running', 'gauge', 'Requests in model execution batches.') + sample('vllm:num_requests_running', L, stats.running)
    s += header('vllm:num_requests_waiting', 'gauge', 'Requests waiting to be processed.') + sample('vllm:num_requests_waiting', L, stats.waiting)
    s += header('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.') + sample('vllm:kv_cache_usage_perc', L, stats.kvCacheUsage)
    s += header('vllm:gpu_cache_usage_perc', 'gauge', 'GPU KV-cache usage (older name of vllm:kv_cache_usage_perc).') + sample('vllm:gpu_cache_usage_perc', L, stats.kvCacheUsage)
    s += header('vllm:prompt_tokens_total', 'counter', 'Prefill tokens processed.') + sample('vllm:prompt_tokens_total', L, stats.promptTokens)
    s += header('vllm:generation_tokens_total', 'counter', 'Generation tokens processed.') + sample('vllm:generation_tokens_total', L, stats.generationTokens)
    s += header('vllm:request_success_total', 'counter', 'Finished requests, by finish reason (abort: the client went away; error: failed after admission).')
    for (const r of ['stop', 'length', 'abort', 'error'] as const) s += sample('vllm:request_success_total', `${L},finished_reason="${r}"`, this.finished[r])
    s += header('vllm:num_preemptions_total', 'counter', 'Cumulative preemptions from the engine.') + sample('vllm:num_preemptions_total', L, stats.preemptions)
    s += header('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in tokens.') + sample('vllm:prefix_cache_queries_total', L, stats.prefixCacheQueries)
    s += header('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in tokens.') + sample('vllm:prefix_cache_hits_total', L, stats.prefixCacheHits)
    const hist = (name: string, help: string, h: Histogram): void => {
      s += header(name, 'histogram', help) + h.render(name, L)
    }
    hist('vllm:time_to_first_token_seconds', 'Time to first token in seconds.', this.ttft)
    hist('vllm:inter_token_latency_seconds', 'Inter-token latency in seconds.', this.itl)
    hist('vllm:request_time_per_output_token_seconds', 'Time per output token (decode time / (output tokens - 1)) per request, seconds.', this.tpot)
    hist('vllm:e2e_request_latency_seconds', 'End-to-end request latency in seconds.', this.e2e)
    hist('vllm:request_queue_time_seconds', 'Time spent waiting in the queue, seconds.', this.queue)
    hist('vllm:request_prefill_time_seconds', 'Time spent in the prefill phase, seconds.', this.prefill)
    hist('vllm:request_decode_time_seconds', 'Time spent in the decode phase, seconds.', this.decode)
    hist('vllm:request_prompt_tokens', 'Prompt tokens per finished request.', this.promptTokens)
    hist('vllm:request_generation_tokens', 'Generation tokens per finished request.', this.generationTokens)

    s += header('loadmesh_sim_replica_up', 'gauge', 'Simulated replica is up (0 while a crash restart window lasts).')
    stats.replicas.forEach((r, i) => { s += sample('loadmesh_sim_replica_up', `${L},replica="${i}"`, r.up ? 1 : 0) })
    s += header('loadmesh_sim_replica_num_requests_running', 'gauge', 'Requests running on one simulated replica.')
    stats.replicas.forEach((r, i) => { s += sample('loadmesh_sim_replica_num_requests_running', `${L},replica="${i}"`, r.running) })
    s += header('loadmesh_sim_replica_num_requests_waiting', 'gauge', 'Requests waiting on one simulated replica.')
    stats.replicas.forEach((r, i) => { s += sample('loadmesh_sim_replica_num_requests_waiting', `${L},replica="${i}"`, r.waiting) })
    s += header('loadmesh_sim_replica_kv_cache_usage_perc', 'gauge', 'KV-cache usage of one simulated replica, 0..1.')
    stats.replicas.forEach((r, i) => { s += sample('loadmesh_sim_replica_kv_cache_usage_perc', `${L},replica="${i}"`, r.kvCacheUsage) })

    s += header('loadmesh_sim_open_streams', 'gauge', 'Responses in progress (streamed or not).') + sample('loadmesh_sim_open_streams', L, this.openStreams)
    s += header('loadmesh_sim_backpressure_total', 'counter', 'Writes the socket could not take at once; the tokens that follow are coalesced until it drains.') +
      sample('loadmesh_sim_backpressure_total', L, this.backpressure)
    s += header('loadmesh_sim_stream_frames_total', 'counter', 'Token-carrying SSE frames written; vllm:generation_tokens_total over it is the mean tokens per frame (above tokens-per-chunk when the simulator or a client fell behind and pending tokens were merged).') +
      sample('loadmesh_sim_stream_frames_total', L, this.frames)
    s += header('loadmesh_sim_faults_injected_total', 'counter', 'Faults played, by kind (per-request kinds count requests).')
    for (const [kind, n] of faults) s += sample('loadmesh_sim_faults_injected_total', `${L},kind="${labelValue(kind)}"`, n)
    const lag = this.lag
    const q = (p: number): number => (lag.count > 0 ? Math.max(0, lag.percentile(p) / 1e9 - 0.01) : 0)
    s += header('loadmesh_sim_event_loop_lag_seconds', 'gauge', 'Event-loop delay of the simulator process since the previous scrape (monitorEventLoopDelay, 10 ms resolution subtracted): high values mean the simulator itself is the bottleneck.')
    s += sample('loadmesh_sim_event_loop_lag_seconds', `${L},quantile="0.5"`, q(50))
    s += sample('loadmesh_sim_event_loop_lag_seconds', `${L},quantile="0.99"`, q(99))
    s += sample('loadmesh_sim_event_loop_lag_seconds', `${L},quantile="1"`, lag.count > 0 ? Math.max(0, lag.max / 1e9 - 0.01) : 0)
    lag.reset()
    const now = performance.eventLoopUtilization()
    const elu = this.elu === undefined ? 0 : performance.eventLoopUtilization(now, this.elu).utilization
    this.elu = now
    s += header('loadmesh_sim_event_loop_utilization', 'gauge', 'Share of the time since the previous scrape the event loop was busy, 0..1.') + sample('loadmesh_sim_event_loop_utilization', L, elu)
    // Prometheus' standard process metrics: the simulator's own cost, next to what it serves.
    const cpu = process.cpuUsage()
    const mem = process.memoryUsage()
    s += header('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.') + sample('process_cpu_seconds_total', '', (cpu.user + cpu.system) / 1e6)
    s += header('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.') + sample('process_resident_memory_bytes', '', mem.rss)
    s += header('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap used, bytes.') + sample('nodejs_heap_size_used_bytes', '', mem.heapUsed)
    s += header('nodejs_external_memory_bytes', 'gauge', 'Memory outside the V8 heap held by JS objects (buffers), bytes.') + sample('nodejs_external_memory_bytes', '', mem.external)
    return s
  }
}
