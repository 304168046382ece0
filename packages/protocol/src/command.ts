import type { Codec } from './codec.ts'
import { decodeWith, encodeWith } from './codec.ts'
import type { DecodeResult } from './errors.ts'
import { bytes, id, invalid, list, meshName, num, record, show, text, tooLarge, uint } from './fields.ts'
import { LIMITS, MAX_CONFIG_JSON_BYTES, MAX_ENVELOPE_BYTES } from './limits.ts'
import { schema } from './schema.ts'

/** One stage of a plan: open loop (`rate` > 0, `concurrency` 0), closed loop (the reverse), or idle (both 0). */
export interface Stage {
  duration_ms: number
  /** Requests per second for the whole mesh; 0 in a closed-loop stage. */
  rate: number
  /** Requests in flight for the whole mesh; 0 in an open-loop stage. */
  concurrency: number
}

export interface RunPlan {
  run_id: string
  /** Seed of the plan's randomness (every agent derives its own stream from it). */
  seed: string
  /** T0: wall-clock epoch ms at which the run starts. */
  start_wall_ms: number
  stages: Stage[]
  /** The agent's RunConfig as JSON (the agent validates it); here only: a JSON object, size-limited. */
  config_json: string
  /** Origins agents may send load to, e.g. "http://127.0.0.1:8000"; anything else is refused. */
  target_allow: string[]
}

export interface RunStop {
  run_id: string
}

export interface RunAbort {
  run_id: string
  reason: string
}

export interface Member {
  peer_id: string
  weight: number
}

/** From `start_ms` (ms after T0) on, the load is shared by `members` (peer ids unique). */
export interface EpochChange {
  run_id: string
  epoch: number
  start_ms: number
  members: Member[]
}

export type CommandBody =
  | { type: 'plan'; plan: RunPlan }
  | { type: 'stop'; stop: RunStop }
  | { type: 'abort'; abort: RunAbort }
  | { type: 'epoch'; epoch: EpochChange }

/** What a controller signs. Highest `lamport` wins, ties broken by `id`. */
export interface Command {
  lamport: number
  /** Unique per command (receivers deduplicate by it). */
  id: string
  /** Peer id of the issuer; its key must match SignedCommand.public_key (checked by the mesh). */
  issuer: string
  /** The mesh the command is for (a command for another mesh must not be replayed here). */
  mesh: string
  body: CommandBody
}

/** A Command as it travels: the signature covers signingBytes(payload). */
export interface SignedCommand {
  /** encodeCommand(...) output. */
  payload: Uint8Array
  /** libp2p protobuf-encoded public key of the issuer. */
  public_key: Uint8Array
  signature: Uint8Array
}

/** Domain separation: a signature made for a loadmesh command is not valid for anything else. */
export const COMMAND_SIGNING_PREFIX = 'loadmesh-command:'
const PREFIX_BYTES = new TextEncoder().encode(COMMAND_SIGNING_PREFIX)

/**
 * The exact bytes to sign and to verify for a command payload: a fixed prefix followed by the
 * payload as sent. Verify against the payload bytes as received; never re-encode a decoded Command
 * to check a signature.
 */
export function signingBytes(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(PREFIX_BYTES.length + payload.length)
  out.set(PREFIX_BYTES, 0)
  out.set(payload, PREFIX_BYTES.length)
  return out
}

const COMMAND_KINDS = ['plan', 'stop', 'abort', 'epoch'] as const

const commandCodec: Codec<Command> = {
  type: schema.Command,
  what: 'command',
  // It travels inside an envelope, so it can never be larger than one.
  maxBytes: MAX_ENVELOPE_BYTES,
  versioned: true,
  read(raw) {
    const o = record(raw, 'command')
    const kind = o.kind
    if (typeof kind !== 'string' || !(COMMAND_KINDS as readonly string[]).includes(kind)) {
      invalid('command', 'has no plan, stop, abort or epoch')
    }
    return readCommand({ ...o, body: { type: kind, [kind as string]: o[kind as string] } })
  },
  check: (value) => readCommand(value),
  toRaw(c) {
    return { lamport: c.lamport, id: c.id, issuer: c.issuer, mesh: c.mesh, [c.body.type]: bodyValue(c.body) }
  }
}

function bodyValue(b: CommandBody): object {
  switch (b.type) {
    case 'plan':
      return b.plan
    case 'stop':
      return b.stop
    case 'abort':
      return b.abort
    case 'epoch':
      return b.epoch
  }
}

/** The payload of a SignedCommand. Deterministic: equal commands encode to equal bytes. */
export function encodeCommand(command: Command): Uint8Array {
  return encodeWith(commandCodec, command)
}

/** Decodes a payload whose signature has been verified. Never throws. */
export function decodeCommand(payload: Uint8Array): DecodeResult<Command> {
  return decodeWith(commandCodec, payload)
}

function readCommand(v: unknown, path = 'command'): Command {
  const o = record(v, path)
  const b = record(o.body, `${path}.body`)
  let body: CommandBody
  switch (b.type) {
    case 'plan':
      body = { type: 'plan', plan: readRunPlan(b.plan, `${path}.plan`) }
      break
    case 'stop':
      body = { type: 'stop', stop: { run_id: id(record(b.stop, `${path}.stop`).run_id, `${path}.stop.run_id`) } }
      break
    case 'abort': {
      const a = record(b.abort, `${path}.abort`)
      body = {
        type: 'abort',
        abort: { run_id: id(a.run_id, `${path}.abort.run_id`), reason: text(a.reason, `${path}.abort.reason`, LIMITS.reasonChars) }
      }
      break
    }
    case 'epoch':
      body = { type: 'epoch', epoch: readEpochChange(b.epoch, `${path}.epoch`) }
      break
    default:
      invalid(`${path}.body.type`, `must be "plan", "stop", "abort" or "epoch", got ${show(b.type)}`)
  }
  return {
    lamport: uint(o.lamport, `${path}.lamport`),
    id: id(o.id, `${path}.id`),
    issuer: id(o.issuer, `${path}.issuer`),
    mesh: meshName(o.mesh, `${path}.mesh`),
    body
  }
}

function readRunPlan(v: unknown, path: string): RunPlan {
  const o = record(v, path)
  const stages = list(o.stages, `${path}.stages`, LIMITS.stages).map((s, i) => readStage(s, `${path}.stages[${i}]`))
  if (stages.length === 0) invalid(`${path}.stages`, 'a plan needs at least one stage')
  const start = uint(o.start_wall_ms, `${path}.start_wall_ms`)
  if (start === 0) invalid(`${path}.start_wall_ms`, 'is missing (0)')
  return {
    run_id: id(o.run_id, `${path}.run_id`),
    seed: text(o.seed, `${path}.seed`, LIMITS.seedChars, true),
    start_wall_ms: start,
    stages,
    config_json: readConfigJson(o.config_json, `${path}.config_json`),
    target_allow: list(o.target_allow, `${path}.target_allow`, LIMITS.targets).map((t, i) =>
      readOrigin(t, `${path}.target_allow[${i}]`)
    )
  }
}

function readStage(v: unknown, path: string): Stage {
  const o = record(v, path)
  const duration = uint(o.duration_ms, `${path}.duration_ms`, LIMITS.stageMs)
  if (duration === 0) invalid(`${path}.duration_ms`, 'must be positive, got 0')
  const rate = num(o.rate, `${path}.rate`, { max: LIMITS.rate })
  const concurrency = uint(o.concurrency, `${path}.concurrency`, LIMITS.concurrency)
  if (rate > 0 && concurrency > 0) {
    invalid(path, `a stage is open (rate) or closed (concurrency), not both: rate ${rate}, concurrency ${concurrency}`)
  }
  return { duration_ms: duration, rate, concurrency }
}

function readConfigJson(v: unknown, path: string): string {
  if (typeof v !== 'string') invalid(path, `must be a string, got ${show(v)}`)
  // Checked in characters first so that measuring the bytes of a huge string is never needed.
  const size = v.length > MAX_CONFIG_JSON_BYTES ? v.length : Buffer.byteLength(v, 'utf8')
  if (size > MAX_CONFIG_JSON_BYTES) tooLarge(path, `${size} bytes, limit ${MAX_CONFIG_JSON_BYTES}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(v)
  } catch {
    invalid(path, 'is not valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) invalid(path, 'must be a JSON object')
  return v
}

/** Exactly an origin (scheme://host[:port], as URL.origin prints it): no paths, no wildcards. */
function readOrigin(v: unknown, path: string): string {
  const s = text(v, path, LIMITS.originChars, true)
  let url: URL | undefined
  try {
    url = new URL(s)
  } catch {
    // reported below
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== s) {
    invalid(path, `must be an http(s) origin such as "http://127.0.0.1:8000" (lower case, no path or trailing slash), got ${show(s)}`)
  }
  return s
}

function readEpochChange(v: unknown, path: string): EpochChange {
  const o = record(v, path)
  const members = list(o.members, `${path}.members`, LIMITS.members).map((m, i) => {
    const r = record(m, `${path}.members[${i}]`)
    return {
      peer_id: id(r.peer_id, `${path}.members[${i}].peer_id`),
      weight: num(r.weight, `${path}.members[${i}].weight`, { exclusiveMin: true, max: LIMITS.weight })
    }
  })
  if (members.length === 0) invalid(`${path}.members`, 'an epoch needs at least one member')
  const seen = new Set<string>()
  for (const m of members) {
    if (seen.has(m.peer_id)) invalid(`${path}.members`, `peer ${m.peer_id} is listed twice`)
    seen.add(m.peer_id)
  }
  return {
    run_id: id(o.run_id, `${path}.run_id`),
    epoch: uint(o.epoch, `${path}.epoch`, 0xffffffff),
    start_ms: readInt64NonNegative(o.start_ms, `${path}.start_ms`),
    members
  }
}

/** int64 on the wire (room for later use of negative offsets); today a non-negative safe integer. */
function readInt64NonNegative(v: unknown, path: string): number {
  return uint(v, path)
}

export function readSignedCommand(v: unknown, path: string): SignedCommand {
  const o = record(v, path)
  return {
    payload: bytes(o.payload, `${path}.payload`, MAX_ENVELOPE_BYTES, true),
    public_key: bytes(o.public_key, `${path}.public_key`, LIMITS.publicKeyBytes, true),
    signature: bytes(o.signature, `${path}.signature`, LIMITS.signatureBytes, true)
  }
}
