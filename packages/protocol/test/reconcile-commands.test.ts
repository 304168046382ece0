import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PROTOCOL_VERSION } from '../src/index.ts'
import {
  RECONCILE_PROTOCOL,
  decodeEnvelope,
  decodeReconcileRequest,
  decodeReconcileResponse,
  encodeCommand,
  encodeEnvelope,
  encodeReconcileRequest,
  encodeReconcileResponse,
  reconcileProtocol
} from '../src/index.ts'
import type { DecodeResult, SignedCommand } from '../src/index.ts'
import { PEER_A, heartbeat, planCommand, rawEncode, wireWindow } from './fixtures.ts'

function ok<T>(r: DecodeResult<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.code}: ${r.reason}`)
  return r.value
}

test('reconcile protocol id: the documented base suffixed with the mesh name, one per mesh', () => {
  assert.equal(reconcileProtocol('prod'), `${RECONCILE_PROTOCOL}/prod`)
  assert.notEqual(reconcileProtocol('a'), reconcileProtocol('b'))
  assert.throws(() => reconcileProtocol('no spaces'), { code: 'ERR_INVALID_FIELD' })
  assert.throws(() => reconcileProtocol(''), { code: 'ERR_INVALID_FIELD' })
})

test('a reconcile request may ask for the run\'s commands; the response carries them signed, byte for byte', () => {
  const req = ok(decodeReconcileRequest(encodeReconcileRequest({ run_id: 'r1', peers: [], commands: true })))
  assert.deepEqual(req, { run_id: 'r1', peers: [], commands: true })
  // Not asking is the default, and an older peer's request (no field 4) decodes the same way.
  assert.deepEqual(ok(decodeReconcileRequest(encodeReconcileRequest({ run_id: 'r1', peers: [PEER_A] }))), { run_id: 'r1', peers: [PEER_A] })

  const signed: SignedCommand = { payload: encodeCommand(planCommand()), public_key: Uint8Array.of(8, 1, 18, 32, ...new Array(32).fill(7)), signature: new Uint8Array(64).fill(3) }
  const res = ok(decodeReconcileResponse(encodeReconcileResponse({
    run_id: 'r1', responder: PEER_A, peers: [{ peer_id: PEER_A, windows: [wireWindow()], live: true }], commands: [signed]
  })))
  assert.equal(res.commands?.length, 1)
  assert.deepEqual(Buffer.from(res.commands?.[0].payload ?? []), Buffer.from(signed.payload))
  assert.deepEqual(Buffer.from(res.commands?.[0].signature ?? []), Buffer.from(signed.signature))
  const none = ok(decodeReconcileResponse(encodeReconcileResponse({ run_id: 'r1', responder: PEER_A, peers: [] })))
  assert.equal(none.commands, undefined)
})

test('a response with an empty signed command is refused, not half-read', () => {
  const bytes = rawEncode('ReconcileResponse', { version: PROTOCOL_VERSION, run_id: 'r1', responder: PEER_A, peers: [], commands: [{ payload: new Uint8Array(0), public_key: new Uint8Array(0), signature: new Uint8Array(0) }] })
  const r = decodeReconcileResponse(bytes)
  assert.equal(r.ok, false)
  if (!r.ok) assert.match(r.reason, /commands\[0\]\.payload/)
})

test('a heartbeat names the run its peer refused and why; an idle one carries neither', () => {
  const hb = heartbeat({ refused_run_id: 'run-9', refused_reason: 'plan run-9: target http://10.0.0.1:80 is not in the plan\'s target_allow' })
  const back = ok(decodeEnvelope(encodeEnvelope({ mesh: 'm', body: { type: 'heartbeat', heartbeat: hb } })))
  assert.equal(back.body.type, 'heartbeat')
  if (back.body.type !== 'heartbeat') return
  assert.equal(back.body.heartbeat.refused_run_id, 'run-9')
  assert.match(back.body.heartbeat.refused_reason ?? '', /not in the plan's target_allow/)
  const plain = ok(decodeEnvelope(encodeEnvelope({ mesh: 'm', body: { type: 'heartbeat', heartbeat: heartbeat() } })))
  assert.equal(plain.body.type === 'heartbeat' && 'refused_run_id' in plain.body.heartbeat, false)
  assert.throws(() => encodeEnvelope({ mesh: 'm', body: { type: 'heartbeat', heartbeat: heartbeat({ refused_run_id: 'has space' }) } }), { code: 'ERR_INVALID_FIELD' })
})
