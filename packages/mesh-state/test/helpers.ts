import { createRunRecorder, emptyResult } from '@loadmesh/metrics'
import type { RequestResult, WindowSnapshot } from '@loadmesh/metrics'
import type { Command, EpochChange, Heartbeat, Member, PeerRole, RunPlan, Stage } from '@loadmesh/protocol'

/** xorshift32: deterministic values for tests. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

export function heartbeat(peer: string, seq: number, over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    peer_id: peer,
    role: 'agent' as PeerRole,
    weight: 1,
    seq,
    wall_ms: 1_700_000_000_000 + seq * 1000,
    run_id: '',
    epoch: 0,
    plan_id: '',
    plan_stamp: 0,
    achieved_rate: 0,
    in_flight: 0,
    sent: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    loop_delay_p99_ms: 1,
    degraded: false,
    max_rate: 0,
    listen_addrs: [],
    ...over
  }
}

export function plan(runId: string, stages: Stage[], over: Partial<RunPlan> = {}): RunPlan {
  return {
    run_id: runId,
    seed: 'seed-1',
    start_wall_ms: 1_700_000_100_000,
    stages,
    config_json: '{}',
    target_allow: ['http://127.0.0.1:8000'],
    ...over
  }
}

const base = { issuer: 'ctl', mesh: 'lab' }

export function planCmd(lamport: number, id: string, p: RunPlan, issuer = 'ctl'): Command {
  return { ...base, issuer, lamport, id, body: { type: 'plan', plan: p } }
}

export function stopCmd(lamport: number, id: string, runId: string): Command {
  return { ...base, lamport, id, body: { type: 'stop', stop: { run_id: runId } } }
}

export function abortCmd(lamport: number, id: string, runId: string, reason = 'operator abort'): Command {
  return { ...base, lamport, id, body: { type: 'abort', abort: { run_id: runId, reason } } }
}

export function epochCmd(lamport: number, id: string, e: EpochChange, issuer = 'p1'): Command {
  return { ...base, issuer, lamport, id, body: { type: 'epoch', epoch: e } }
}

export function members(...ids: string[]): Member[] {
  return ids.map((peer_id) => ({ peer_id, weight: 1 }))
}

/** One ok streamed result at `at` with latencies drawn from `r`. */
function result(at: number, r: () => number): RequestResult {
  const sent = at + r() * 2
  const first = sent + 50 + r() * 400
  const gaps = Array.from({ length: 3 + Math.floor(r() * 20) }, () => 5 + r() * 40)
  const last = first + gaps.reduce((a, b) => a + b, 0)
  return {
    ...emptyResult(at, '/v1/chat/completions', true),
    sentAt: sent,
    firstTokenAt: first,
    firstContentAt: first,
    lastTokenAt: last,
    endAt: last + 1,
    itls: gaps,
    contentChunks: gaps.length + 1,
    outputTokens: gaps.length + 1,
    outputTokensSource: 'usage',
    inputTokens: 100,
    ok: true
  }
}

/**
 * Realistic recorder windows: `windows` 1-second windows at `ratePerS` requests per second. Every
 * window is closed (the recorder is asked for them after the last one ended).
 */
export function recordedWindows(seed: number, windows: number, ratePerS: number): WindowSnapshot[] {
  const r = rng(seed)
  const rec = createRunRecorder({ startAt: 0, windowMs: 1000 })
  const n = windows * ratePerS
  for (let i = 0; i < n; i++) {
    // Requests end inside the run (the last ones' latency is kept short enough).
    const at = (i / n) * (windows * 1000 - 2000)
    rec.onScheduled(at)
    const res = result(at, r)
    rec.onSent(res.sentAt)
    rec.record(res)
  }
  rec.onScheduled(windows * 1000 - 1) // touches the last window, so there are exactly `windows`
  return rec.windows(windows * 1000 + 1)
}
