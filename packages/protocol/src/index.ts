export type { ProtocolErrorCode, DecodeResult } from './errors.ts'
export { ProtocolError } from './errors.ts'

export {
  PROTOCOL_VERSION,
  MAX_ENVELOPE_BYTES,
  MAX_RECONCILE_REQUEST_BYTES,
  MAX_RECONCILE_RESPONSE_BYTES,
  MAX_CONFIG_JSON_BYTES,
  LIMITS
} from './limits.ts'

export type { Envelope, EnvelopeBody } from './envelope.ts'
export { encodeEnvelope, decodeEnvelope } from './envelope.ts'

export type { Heartbeat, PeerRole } from './heartbeat.ts'
export { PEER_ROLES } from './heartbeat.ts'

export type { Command, CommandBody, SignedCommand, RunPlan, Stage, RunStop, RunAbort, EpochChange, Member } from './command.ts'
export { encodeCommand, decodeCommand, signingBytes, COMMAND_SIGNING_PREFIX } from './command.ts'

export type { ResultsDelta, WireWindow } from './results.ts'
export { windowToWire, windowFromWire } from './window-conversion.ts'

export type { ReconcileRequest, ReconcileResponse, PeerWindows } from './reconcile.ts'
export {
  RECONCILE_PROTOCOL,
  reconcileProtocol,
  encodeReconcileRequest,
  decodeReconcileRequest,
  encodeReconcileResponse,
  decodeReconcileResponse
} from './reconcile.ts'

export type { ClockSample } from './clock-offset.ts'
export { clockSample } from './clock-offset.ts'

export type { MeshTopics } from './topics.ts'
export { meshTopics } from './topics.ts'
export { isValidMeshName } from './fields.ts'
export { prepareCodecs } from './schema.ts'
