import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PROTOCOL_VERSION } from '../src/index.ts'
import fc from 'fast-check'
import {
  COMMAND_SIGNING_PREFIX,
  LIMITS,
  MAX_CONFIG_JSON_BYTES,
  MAX_ENVELOPE_BYTES,
  ProtocolError,
  decodeCommand,
  decodeEnvelope,
  encodeCommand,
  encodeEnvelope,
  signingBytes
} from '../src/index.ts'
import type { Command, DecodeResult, RunPlan } from '../src/index.ts'
import { PEER_A, PEER_B, plan, planCommand, rawEncode } from './fixtures.ts'

function ok<T>(r: DecodeResult<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.code}: ${r.reason}`)
  return r.value
}

function refused<T>(r: DecodeResult<T>, code: string, reason: RegExp): void {
  assert.equal(r.ok, false, 'expected the command to be refused')
  if (r.ok) return
  assert.equal(r.code, code, r.reason)
  assert.match(r.reason, reason)
}

const throwsProtocol = (fn: () => unknown, code: string, message: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ProtocolError && e.code === code && message.test(e.message))

const base = { lamport: 9, id: 'cmd-9', issuer: PEER_A, mesh: 'lab' }

test('every command kind round-trips', () => {
  const commands: Command[] = [
    planCommand(),
    planCommand(plan({ stages: [{ duration_ms: 60_000, rate: 0, concurrency: 32 }, { duration_ms: 1000, rate: 0, concurrency: 0 }] })),
    { ...base, body: { type: 'stop', stop: { run_id: 'run-1' } } },
    { ...base, body: { type: 'abort', abort: { run_id: 'run-1', reason: 'target answers 503 to everything — stopping' } } },
    { ...base, body: { type: 'abort', abort: { run_id: 'run-1', reason: '' } } },
    {
      ...base,
      body: { type: 'epoch', epoch: { run_id: 'run-1', epoch: 2, start_ms: 45_000, members: [{ peer_id: PEER_A, weight: 1 }, { peer_id: PEER_B, weight: 2.5 }] } }
    }
  ]
  for (const c of commands) assert.deepEqual(ok(decodeCommand(encodeCommand(c))), c)
})

test('encoding is deterministic, so the bytes a controller signs are reproducible', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.double({ min: 0.1, max: 1000, noNaN: true }), (lamport, rate) => {
      const c = planCommand(plan({ stages: [{ duration_ms: 1000, rate, concurrency: 0 }] }), { lamport })
      assert.deepEqual(encodeCommand(c), encodeCommand(structuredClone(c)))
    }),
    { seed: 3, numRuns: 100 }
  )
})

test('signingBytes prefixes the payload with the loadmesh domain', () => {
  const payload = encodeCommand(planCommand())
  const signed = signingBytes(payload)
  assert.equal(new TextDecoder().decode(signed.subarray(0, COMMAND_SIGNING_PREFIX.length)), 'loadmesh-command:')
  assert.deepEqual(signed.subarray(COMMAND_SIGNING_PREFIX.length), payload)
  // The prefix makes the signed bytes unparseable as a command: a signature over a command cannot be
  // mistaken for one over a payload, nor the other way around.
  assert.equal(decodeCommand(signed).ok, false)
})

test('a plan with every list and string at its limit still fits in one gossip envelope', (t) => {
  const origin = (i: number) => `https://${'h'.repeat(LIMITS.originChars - 'https://'.length - 6)}:${String(10000 + i)}`
  assert.equal(origin(1).length, LIMITS.originChars)
  const config = JSON.stringify({ pad: 'x'.repeat(MAX_CONFIG_JSON_BYTES - 10) })
  assert.equal(Buffer.byteLength(config), MAX_CONFIG_JSON_BYTES)
  const worst: RunPlan = {
    run_id: 'r'.repeat(LIMITS.idChars),
    seed: 's'.repeat(LIMITS.seedChars),
    start_wall_ms: Number.MAX_SAFE_INTEGER,
    stages: Array.from({ length: LIMITS.stages }, () => ({ duration_ms: LIMITS.stageMs, rate: Math.PI, concurrency: 0 })),
    config_json: config,
    target_allow: Array.from({ length: LIMITS.targets }, (_, i) => origin(i))
  }
  const cmd = planCommand(worst, { lamport: Number.MAX_SAFE_INTEGER, id: 'i'.repeat(128), issuer: 'p'.repeat(128), mesh: 'm'.repeat(64) })
  const payload = encodeCommand(cmd)
  const envelope = encodeEnvelope({
    mesh: 'm'.repeat(64),
    body: {
      type: 'command',
      command: { payload, public_key: new Uint8Array(LIMITS.publicKeyBytes), signature: new Uint8Array(LIMITS.signatureBytes) }
    }
  })
  assert.ok(envelope.length <= MAX_ENVELOPE_BYTES, `${envelope.length} bytes`)
  t.diagnostic(`worst-case plan envelope: ${envelope.length} bytes`)
  const back = ok(decodeEnvelope(envelope))
  assert.equal(back.body.type, 'command')
  assert.deepEqual(ok(decodeCommand(back.body.type === 'command' ? back.body.command.payload : new Uint8Array())), cmd)
})

test('plan fields are validated: stages, T0, config JSON, target origins', () => {
  const cases: Array<[Partial<RunPlan>, string, RegExp]> = [
    [{ stages: [] }, 'ERR_INVALID_FIELD', /command\.plan\.stages: a plan needs at least one stage/],
    [{ stages: [{ duration_ms: 0, rate: 1, concurrency: 0 }] }, 'ERR_INVALID_FIELD', /stages\[0\]\.duration_ms: must be positive/],
    [{ stages: [{ duration_ms: 10, rate: 1, concurrency: 2 }] }, 'ERR_INVALID_FIELD', /stages\[0\]: a stage is open \(rate\) or closed \(concurrency\), not both/],
    [{ stages: [{ duration_ms: 10, rate: 2e6, concurrency: 0 }] }, 'ERR_INVALID_FIELD', /stages\[0\]\.rate: must be ≤ 1000000/],
    [{ stages: Array(257).fill({ duration_ms: 1, rate: 1, concurrency: 0 }) }, 'ERR_TOO_LARGE', /stages: 257 entries, limit 256|RunPlan\.stages has more than 256 entries/],
    [{ start_wall_ms: 0 }, 'ERR_INVALID_FIELD', /start_wall_ms: is missing/],
    [{ seed: '' }, 'ERR_INVALID_FIELD', /plan\.seed: is missing/],
    [{ config_json: '{"rate": ' }, 'ERR_INVALID_FIELD', /config_json: is not valid JSON/],
    [{ config_json: '[1,2]' }, 'ERR_INVALID_FIELD', /config_json: must be a JSON object/],
    [{ config_json: JSON.stringify({ p: 'é'.repeat(MAX_CONFIG_JSON_BYTES / 2) }) }, 'ERR_TOO_LARGE', /config_json: 32776 bytes, limit 32768/],
    [{ target_allow: ['http://127.0.0.1:8000/v1'] }, 'ERR_INVALID_FIELD', /target_allow\[0\]: must be an http\(s\) origin/],
    [{ target_allow: ['http://127.0.0.1:8000/'] }, 'ERR_INVALID_FIELD', /target_allow\[0\]/],
    [{ target_allow: ['ftp://files.example'] }, 'ERR_INVALID_FIELD', /target_allow\[0\]/],
    [{ target_allow: ['*'] }, 'ERR_INVALID_FIELD', /target_allow\[0\]/],
    [{ target_allow: ['HTTP://Host:80'] }, 'ERR_INVALID_FIELD', /target_allow\[0\]/]
  ]
  for (const [over, code, message] of cases) {
    throwsProtocol(() => encodeCommand(planCommand(plan(over))), code, message)
    // A peer that skips validation gets the same verdict at the receiver.
    const raw = rawEncode('Command', { version: PROTOCOL_VERSION, ...base, plan: { ...plan(), ...over } })
    refused(decodeCommand(raw), code, message)
  }
})

test('epoch changes need unique members with positive weights, at most 256', () => {
  const epoch = (members: unknown[], over: Record<string, unknown> = {}) =>
    rawEncode('Command', { version: PROTOCOL_VERSION, ...base, epoch: { run_id: 'run-1', epoch: 1, start_ms: 1000, members, ...over } })
  const a = { peer_id: PEER_A, weight: 1 }
  refused(decodeCommand(epoch([])), 'ERR_INVALID_FIELD', /epoch\.members: an epoch needs at least one member/)
  refused(decodeCommand(epoch([a, { ...a, weight: 3 }])), 'ERR_INVALID_FIELD', /peer 12D3KooW\w+ is listed twice/)
  refused(decodeCommand(epoch([{ peer_id: PEER_B, weight: 0 }])), 'ERR_INVALID_FIELD', /members\[0\]\.weight: must be > 0/)
  refused(decodeCommand(epoch([{ peer_id: '', weight: 1 }])), 'ERR_INVALID_FIELD', /members\[0\]\.peer_id: is missing/)
  refused(decodeCommand(epoch([a], { start_ms: -5 })), 'ERR_INVALID_FIELD', /epoch\.start_ms: must be an integer in 0\.\./)
  const many = Array.from({ length: 257 }, (_, i) => ({ peer_id: `peer-${i}`, weight: 1 }))
  refused(decodeCommand(epoch(many)), 'ERR_TOO_LARGE', /EpochChange\.members has more than 256 entries/)
  assert.equal(ok(decodeCommand(epoch(many.slice(0, 256)))).body.type, 'epoch')
})

test('commands need a version, an id, an issuer, a valid mesh and a kind', () => {
  refused(decodeCommand(rawEncode('Command', { ...base, stop: { run_id: 'r' } })), 'ERR_VERSION', /command: no protocol version/)
  refused(decodeCommand(rawEncode('Command', { version: 3, ...base, stop: { run_id: 'r' } })), 'ERR_VERSION', /version 3 is newer/)
  refused(decodeCommand(rawEncode('Command', { version: PROTOCOL_VERSION, ...base })), 'ERR_INVALID_FIELD', /command: has no plan, stop, abort or epoch/)
  refused(decodeCommand(rawEncode('Command', { version: PROTOCOL_VERSION, ...base, id: '', stop: { run_id: 'r' } })), 'ERR_INVALID_FIELD', /command\.id: is missing/)
  refused(decodeCommand(rawEncode('Command', { version: PROTOCOL_VERSION, ...base, issuer: '', stop: { run_id: 'r' } })), 'ERR_INVALID_FIELD', /command\.issuer/)
  refused(decodeCommand(rawEncode('Command', { version: PROTOCOL_VERSION, ...base, mesh: '../x', stop: { run_id: 'r' } })), 'ERR_INVALID_FIELD', /command\.mesh/)
  refused(decodeCommand(rawEncode('Command', { version: PROTOCOL_VERSION, ...base, stop: {} })), 'ERR_INVALID_FIELD', /command\.stop\.run_id: is missing/)
  const longReason = rawEncode('Command', { version: PROTOCOL_VERSION, ...base, abort: { run_id: 'r', reason: 'x'.repeat(1025) } })
  refused(decodeCommand(longReason), 'ERR_TOO_LARGE', /command\.abort\.reason: 1025 characters, limit 1024/)
  refused(decodeCommand(rawEncode('Command', { version: PROTOCOL_VERSION, ...base, lamport: '9007199254740993', stop: { run_id: 'r' } })), 'ERR_INVALID_FIELD', /command\.lamport/)
  refused(decodeCommand(new Uint8Array(MAX_ENVELOPE_BYTES + 1)), 'ERR_TOO_LARGE', /command: 65537 bytes/)
})

test('garbage payloads never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const r = decodeCommand(b)
      if (r.ok) encodeCommand(r.value)
    }),
    { seed: 11, numRuns: 2000 }
  )
})
