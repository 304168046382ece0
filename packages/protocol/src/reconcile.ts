import type { Codec } from './codec.ts'
import { decodeWith, encodeWith } from './codec.ts'
import type { DecodeResult } from './errors.ts'
import { readSignedCommand } from './command.ts'
import type { SignedCommand } from './command.ts'
import { bool, bytes, id, list, meshName, record, tooLarge } from './fields.ts'
import { LIMITS, MAX_RECONCILE_REQUEST_BYTES, MAX_RECONCILE_RESPONSE_BYTES } from './limits.ts'
import { readWindows } from './results.ts'
import type { WireWindow } from './results.ts'
import { schema } from './schema.ts'

/**
 * The documented base id of the direct stream that pulls windows from a peer. Peers answer it
 * suffixed with their mesh name (reconcileProtocol), never bare.
 */
export const RECONCILE_PROTOCOL = '/loadmesh/reconcile/1.0.0'

/**
 * The reconcile stream id of one mesh: the base, then `/<mesh>`. Gossip topics carry the mesh name
 * (loadmesh/<mesh>/...) and so does this, so two meshes sharing a swarm key (or an insecure
 * network) never answer each other's reconcile requests: libp2p refuses the protocol instead.
 */
export function reconcileProtocol(mesh: string): string {
  return `${RECONCILE_PROTOCOL}/${meshName(mesh, 'reconcileProtocol(mesh)')}`
}

/** "Send me the windows you hold for this run." */
export interface ReconcileRequest {
  run_id: string
  /** Whose windows are wanted; empty = every peer the responder has windows of. */
  peers: string[]
  /** Also send the run's signed commands (see ReconcileResponse.commands). Default false. */
  commands?: boolean
}

export interface PeerWindows {
  peer_id: string
  windows: WireWindow[]
  /** The responder currently sees this peer alive (a dead peer's windows are final). */
  live: boolean
  /**
   * The newest cumulative breakdown snapshot the responder holds for this peer (metrics'
   * encodeBreakdownSnapshot bytes, opaque here and only bounded in size); absent when none.
   */
  breakdown?: Uint8Array
}

/**
 * One response frame. A responder may send several frames for one request (one per peer, say) to
 * stay under MAX_RECONCILE_RESPONSE_BYTES; windows form a grow-only set, so the requester merges
 * every frame it gets and the end of the stream ends the answer.
 */
export interface ReconcileResponse {
  run_id: string
  responder: string
  peers: PeerWindows[]
  /**
   * When the request asked for them: the run's signed commands as the responder received them.
   * Untrusted like gossip: verify each before use. Absent when none were sent.
   */
  commands?: SignedCommand[]
}

const requestCodec: Codec<ReconcileRequest> = {
  type: schema.ReconcileRequest,
  what: 'reconcile request',
  maxBytes: MAX_RECONCILE_REQUEST_BYTES,
  versioned: true,
  read(v) {
    const o = record(v, 'reconcile request')
    const r: ReconcileRequest = {
      run_id: id(o.run_id, 'reconcile request.run_id'),
      peers: list(o.peers, 'reconcile request.peers', LIMITS.members).map((p, i) => id(p, `reconcile request.peers[${i}]`))
    }
    if (o.commands !== undefined && bool(o.commands, 'reconcile request.commands')) r.commands = true
    return r
  },
  toRaw: (r) => ({ run_id: r.run_id, peers: r.peers, commands: r.commands === true })
}

const responseCodec: Codec<ReconcileResponse> = {
  type: schema.ReconcileResponse,
  what: 'reconcile response',
  maxBytes: MAX_RECONCILE_RESPONSE_BYTES,
  versioned: true,
  read(v) {
    const path = 'reconcile response'
    const o = record(v, path)
    let total = 0
    const peers = list(o.peers, `${path}.peers`, LIMITS.members).map((p, i): PeerWindows => {
      const r = record(p, `${path}.peers[${i}]`)
      const windows = readWindows(r.windows, `${path}.peers[${i}].windows`, LIMITS.windowsPerMessage)
      total += windows.length
      if (total > LIMITS.reconcileWindows) tooLarge(`${path}.peers`, `more than ${LIMITS.reconcileWindows} windows in one frame`)
      const pw: PeerWindows = { peer_id: id(r.peer_id, `${path}.peers[${i}].peer_id`), windows, live: bool(r.live, `${path}.peers[${i}].live`) }
      const breakdown = r.breakdown === undefined ? undefined : bytes(r.breakdown, `${path}.peers[${i}].breakdown`, LIMITS.breakdownBytes)
      if (breakdown !== undefined && breakdown.length > 0) pw.breakdown = breakdown
      return pw
    })
    const out: ReconcileResponse = { run_id: id(o.run_id, `${path}.run_id`), responder: id(o.responder, `${path}.responder`), peers }
    const commands = o.commands === undefined ? [] : list(o.commands, `${path}.commands`, LIMITS.commandsPerResponse)
    if (commands.length > 0) out.commands = commands.map((c, i) => readSignedCommand(c, `${path}.commands[${i}]`))
    return out
  },
  toRaw: (r) => ({ run_id: r.run_id, responder: r.responder, peers: r.peers, commands: r.commands ?? [] })
}

export function encodeReconcileRequest(request: ReconcileRequest): Uint8Array {
  return encodeWith(requestCodec, request)
}

export function decodeReconcileRequest(bytes: Uint8Array): DecodeResult<ReconcileRequest> {
  return decodeWith(requestCodec, bytes)
}

/** Throws ProtocolError ERR_TOO_LARGE when the frame would exceed the limit: split it by peer. */
export function encodeReconcileResponse(response: ReconcileResponse): Uint8Array {
  return encodeWith(responseCodec, response)
}

export function decodeReconcileResponse(bytes: Uint8Array): DecodeResult<ReconcileResponse> {
  return decodeWith(responseCodec, bytes)
}
