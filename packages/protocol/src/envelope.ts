import type { Codec } from './codec.ts'
import { decodeWith, encodeWith } from './codec.ts'
import { readSignedCommand } from './command.ts'
import type { SignedCommand } from './command.ts'
import type { DecodeResult } from './errors.ts'
import { invalid, meshName, record, show } from './fields.ts'
import { readHeartbeat } from './heartbeat.ts'
import type { Heartbeat } from './heartbeat.ts'
import { MAX_ENVELOPE_BYTES } from './limits.ts'
import { readResultsDelta } from './results.ts'
import { schema } from './schema.ts'
import type { ResultsDelta } from './results.ts'

export type EnvelopeBody =
  | { type: 'heartbeat'; heartbeat: Heartbeat }
  | { type: 'command'; command: SignedCommand }
  | { type: 'results'; results: ResultsDelta }

/**
 * One gossipsub message. Heartbeats go on loadmesh/<mesh>/state, commands on /control, results on
 * /results (see meshTopics); the protocol version is added on encode and checked on decode.
 */
export interface Envelope {
  mesh: string
  body: EnvelopeBody
}

const BODY_TYPES = ['heartbeat', 'command', 'results'] as const

function readEnvelope(v: unknown): Envelope {
  const o = record(v, 'envelope')
  const b = record(o.body, 'envelope.body')
  const mesh = meshName(o.mesh, 'envelope.mesh')
  switch (b.type) {
    case 'heartbeat':
      return { mesh, body: { type: 'heartbeat', heartbeat: readHeartbeat(b.heartbeat, 'heartbeat') } }
    case 'command':
      return { mesh, body: { type: 'command', command: readSignedCommand(b.command, 'command') } }
    case 'results':
      return { mesh, body: { type: 'results', results: readResultsDelta(b.results, 'results') } }
    default:
      return invalid('envelope.body.type', `must be "heartbeat", "command" or "results", got ${show(b.type)}`)
  }
}

const envelopeCodec: Codec<Envelope> = {
  type: schema.Envelope,
  what: 'envelope',
  maxBytes: MAX_ENVELOPE_BYTES,
  versioned: true,
  read(raw) {
    const o = record(raw, 'envelope')
    const t = o.body
    if (typeof t !== 'string' || !(BODY_TYPES as readonly string[]).includes(t)) {
      invalid('envelope', 'has no heartbeat, command or results')
    }
    return readEnvelope({ mesh: o.mesh, body: { type: t, [t as string]: o[t as string] } })
  },
  check: readEnvelope,
  toRaw(e) {
    const b = e.body
    const inner = b.type === 'heartbeat' ? b.heartbeat : b.type === 'command' ? b.command : b.results
    return { mesh: e.mesh, [b.type]: inner }
  }
}

/** Validates and encodes a gossip message. Throws ProtocolError for an invalid or oversized one. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return encodeWith(envelopeCodec, envelope)
}

/** Decodes a gossip message from an untrusted peer. Never throws; see DecodeResult. */
export function decodeEnvelope(bytes: Uint8Array): DecodeResult<Envelope> {
  return decodeWith(envelopeCodec, bytes)
}
