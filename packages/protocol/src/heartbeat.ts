import { bool, id, list, num, oneOf, optionalId, record, text, uint } from './fields.ts'
import { LIMITS } from './limits.ts'

export type PeerRole = 'agent' | 'controller'
export const PEER_ROLES: readonly PeerRole[] = ['agent', 'controller']

/** Published on loadmesh/<mesh>/state by every peer, periodically. */
export interface Heartbeat {
  peer_id: string
  role: PeerRole
  /** Declared capacity; the share of the load is proportional to it. > 0. */
  weight: number
  /** Strictly increasing per sender (needs state, so the mesh checks it, not the decoder). */
  seq: number
  /** Sender's wall clock (epoch ms) when sent. */
  wall_ms: number
  /** Sender's monotonic clock when sent (diagnostics only; not comparable between hosts). */
  mono_ms?: number
  /** Current run, "" when idle. */
  run_id: string
  epoch: number
  /** Command id of the plan being executed, "" when idle. */
  plan_id: string
  /** That plan's Lamport stamp. */
  plan_stamp: number
  /** Requests per second actually sent recently. */
  achieved_rate: number
  in_flight: number
  /** Run totals so far. */
  sent: number
  completed: number
  failed: number
  dropped: number
  loop_delay_p99_ms: number
  /** The agent cannot keep up (Lifeguard-style self-report). */
  degraded: boolean
  /** Self-declared ceiling in requests per second; 0 = none declared. */
  max_rate: number
  /** Multiaddrs other peers can dial. */
  listen_addrs: string[]
  /**
   * The latest run this peer refused to execute (target not in the plan's allow-list, over its
   * --max-rate, a config it cannot run), so a controller can show why an agent is idle. Absent
   * when none (both travel as "" then).
   */
  refused_run_id?: string
  refused_reason?: string
}

export function readHeartbeat(v: unknown, path = 'heartbeat'): Heartbeat {
  const o = record(v, path)
  const hb: Heartbeat = {
    peer_id: id(o.peer_id, `${path}.peer_id`),
    role: oneOf(o.role, `${path}.role`, PEER_ROLES),
    weight: num(o.weight, `${path}.weight`, { exclusiveMin: true, max: LIMITS.weight }),
    seq: uint(o.seq, `${path}.seq`),
    wall_ms: num(o.wall_ms, `${path}.wall_ms`),
    run_id: optionalId(o.run_id, `${path}.run_id`),
    epoch: uint(o.epoch, `${path}.epoch`, 0xffffffff),
    plan_id: optionalId(o.plan_id, `${path}.plan_id`),
    plan_stamp: uint(o.plan_stamp, `${path}.plan_stamp`),
    achieved_rate: num(o.achieved_rate, `${path}.achieved_rate`),
    in_flight: uint(o.in_flight, `${path}.in_flight`),
    sent: uint(o.sent, `${path}.sent`),
    completed: uint(o.completed, `${path}.completed`),
    failed: uint(o.failed, `${path}.failed`),
    dropped: uint(o.dropped, `${path}.dropped`),
    loop_delay_p99_ms: num(o.loop_delay_p99_ms, `${path}.loop_delay_p99_ms`),
    degraded: bool(o.degraded, `${path}.degraded`),
    max_rate: num(o.max_rate, `${path}.max_rate`),
    listen_addrs: list(o.listen_addrs, `${path}.listen_addrs`, LIMITS.listenAddrs).map((a, i) =>
      text(a, `${path}.listen_addrs[${i}]`, LIMITS.addrChars, true)
    )
  }
  if (o.mono_ms !== undefined) hb.mono_ms = num(o.mono_ms, `${path}.mono_ms`)
  const refused = o.refused_run_id === undefined ? '' : optionalId(o.refused_run_id, `${path}.refused_run_id`)
  if (refused !== '') {
    hb.refused_run_id = refused
    hb.refused_reason = o.refused_reason === undefined ? '' : text(o.refused_reason, `${path}.refused_reason`, LIMITS.reasonChars)
  }
  return hb
}
