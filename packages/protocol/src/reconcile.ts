import type { Codec } from './codec.ts'
import { decodeWith, encodeWith } from './codec.ts'
import type { DecodeResult } from './errors.ts'
import { bool, id, list, record, tooLarge } from './fields.ts'
import { LIMITS, MAX_RECONCILE_REQUEST_BYTES, MAX_RECONCILE_RESPONSE_BYTES } from './limits.ts'
import { readWindows } from './results.ts'
import type { WireWindow } from './results.ts'
import { schema } from './schema.ts'

/** Libp2p protocol id of the direct stream that pulls windows from a peer. */
export const RECONCILE_PROTOCOL = '/loadmesh/reconcile/1.0.0'

/** "Send me the windows you hold for this run." */
export interface ReconcileRequest {
  run_id: string
  /** Whose windows are wanted; empty = every peer the responder has windows of. */
  peers: string[]
}

export interface PeerWindows {
  peer_id: string
  windows: WireWindow[]
  /** The responder currently sees this peer alive (a dead peer's windows are final). */
  live: boolean
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
}

const requestCodec: Codec<ReconcileRequest> = {
  type: schema.ReconcileRequest,
  what: 'reconcile request',
  maxBytes: MAX_RECONCILE_REQUEST_BYTES,
  versioned: true,
  read(v) {
    const o = record(v, 'reconcile request')
    return {
      run_id: id(o.run_id, 'reconcile request.run_id'),
      peers: list(o.peers, 'reconcile request.peers', LIMITS.members).map((p, i) => id(p, `reconcile request.peers[${i}]`))
    }
  },
  toRaw: (r) => ({ run_id: r.run_id, peers: r.peers })
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
      return { peer_id: id(r.peer_id, `${path}.peers[${i}].peer_id`), windows, live: bool(r.live, `${path}.peers[${i}].live`) }
    })
    return { run_id: id(o.run_id, `${path}.run_id`), responder: id(o.responder, `${path}.responder`), peers }
  },
  toRaw: (r) => ({ run_id: r.run_id, responder: r.responder, peers: r.peers })
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
