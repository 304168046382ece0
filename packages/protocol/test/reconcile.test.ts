import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PROTOCOL_VERSION } from '../src/index.ts'
import fc from 'fast-check'
import {
  LIMITS,
  MAX_RECONCILE_RESPONSE_BYTES,
  ProtocolError,
  RECONCILE_PROTOCOL,
  decodeReconcileRequest,
  decodeReconcileResponse,
  encodeReconcileRequest,
  encodeReconcileResponse
} from '../src/index.ts'
import type { DecodeResult, ReconcileResponse } from '../src/index.ts'
import { PEER_A, PEER_B, arbWindow, rawEncode, wireWindow } from './fixtures.ts'

function ok<T>(r: DecodeResult<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.code}: ${r.reason}`)
  return r.value
}

function refused<T>(r: DecodeResult<T>, code: string, reason: RegExp): void {
  assert.equal(r.ok, false, 'expected the frame to be refused')
  if (r.ok) return
  assert.equal(r.code, code, r.reason)
  assert.match(r.reason, reason)
}

/** Hand-built protobuf: a length-delimited field. */
function field(id: number, body: Uint8Array): Uint8Array {
  const len: number[] = []
  let n = body.length
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  len.push(n)
  return Buffer.concat([Uint8Array.of((id << 3) | 2), Uint8Array.from(len), body])
}

test('the stream protocol id carries the major version', () => {
  assert.equal(RECONCILE_PROTOCOL, '/loadmesh/reconcile/1.0.0')
})

test('requests and responses round-trip', () => {
  for (const req of [{ run_id: 'run-1', peers: [] }, { run_id: 'run-1', peers: [PEER_A, PEER_B] }]) {
    assert.deepEqual(ok(decodeReconcileRequest(encodeReconcileRequest(req))), req)
  }
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.array(arbWindow, { maxLength: 3 }), fc.boolean()), { maxLength: 4 }), (groups) => {
      const res: ReconcileResponse = {
        run_id: 'run-1',
        responder: PEER_B,
        peers: groups.map(([windows, live], i) => ({ peer_id: `peer-${i}`, windows, live }))
      }
      assert.deepEqual(ok(decodeReconcileResponse(encodeReconcileResponse(res))), res)
    }),
    { seed: 5, numRuns: 100 }
  )
})

test('request and response fields are validated', () => {
  refused(decodeReconcileRequest(rawEncode('ReconcileRequest', { version: PROTOCOL_VERSION, peers: [] })), 'ERR_INVALID_FIELD', /reconcile request\.run_id: is missing/)
  refused(decodeReconcileRequest(rawEncode('ReconcileRequest', { version: PROTOCOL_VERSION, run_id: 'r', peers: [''] })), 'ERR_INVALID_FIELD', /peers\[0\]: is missing/)
  refused(decodeReconcileRequest(rawEncode('ReconcileRequest', { version: PROTOCOL_VERSION + 1, run_id: 'r' })), 'ERR_VERSION', /reconcile request: protocol version \d+ is newer/)
  const many = Array.from({ length: 257 }, (_, i) => `p${i}`)
  refused(decodeReconcileRequest(rawEncode('ReconcileRequest', { version: PROTOCOL_VERSION, run_id: 'r', peers: many })), 'ERR_TOO_LARGE', /ReconcileRequest\.peers has more than 256/)
  refused(decodeReconcileResponse(rawEncode('ReconcileResponse', { version: PROTOCOL_VERSION, run_id: 'r', peers: [] })), 'ERR_INVALID_FIELD', /reconcile response\.responder: is missing/)
  const badWindow = rawEncode('ReconcileResponse', {
    version: PROTOCOL_VERSION,
    run_id: 'r',
    responder: PEER_A,
    peers: [{ peer_id: PEER_B, windows: [{ index: 1, duration_ms: 0, counters: {} }] }]
  })
  refused(decodeReconcileResponse(badWindow), 'ERR_INVALID_FIELD', /reconcile response\.peers\[0\]\.windows\[0\]\.duration_ms: must be positive/)
})

test('an oversized frame is refused before decoding; an oversized response cannot be encoded', () => {
  refused(decodeReconcileResponse(new Uint8Array(MAX_RECONCILE_RESPONSE_BYTES + 1)), 'ERR_TOO_LARGE', /33554433 bytes, limit 33554432/)
  // 150 windows with a maximal histogram each: every window is valid, the frame is not.
  const big = wireWindow({ histograms: { ttft: new Uint8Array(LIMITS.histogramBytes).fill(3) } })
  const windows = Array.from({ length: 150 }, (_, i) => ({ ...big, index: i }))
  assert.throws(
    () => encodeReconcileResponse({ run_id: 'r', responder: PEER_A, peers: [{ peer_id: PEER_B, windows, live: true }] }),
    (e: unknown) => e instanceof ProtocolError && e.code === 'ERR_TOO_LARGE' && /reconcile response: encodes to \d+ bytes, limit 33554432/.test(e.message)
  )
})

test('entry counts are checked on the raw bytes, before anything is built', () => {
  const header = Buffer.concat([Uint8Array.of(0x08, PROTOCOL_VERSION), field(2, Buffer.from('r')), field(3, Buffer.from(PEER_A))])
  const emptyWindow = field(2, new Uint8Array(0))
  const peer = (windows: number, windowBody = emptyWindow) => field(4, Buffer.concat([field(1, Buffer.from(PEER_B)), ...Array(windows).fill(windowBody)]))

  // One peer with more windows than a PeerWindows may hold.
  refused(decodeReconcileResponse(Buffer.concat([header, peer(4097)])), 'ERR_TOO_LARGE', /PeerWindows\.windows has more than 4096 entries/)
  // Seventeen full peers: each within its limit, the frame over the total.
  refused(decodeReconcileResponse(Buffer.concat([header, ...Array(17).fill(peer(4096))])), 'ERR_TOO_LARGE', /more than 65536 PeerWindows\.windows entries/)
  // 65536 windows of 16 empty histogram entries each: 2.3 MB that would decode into over a million objects.
  const fatWindow = field(2, Buffer.concat(Array(16).fill(field(6, new Uint8Array(0)))))
  const frame = Buffer.concat([header, ...Array(16).fill(peer(4096, fatWindow))])
  assert.ok(frame.length < 3_000_000)
  refused(decodeReconcileResponse(frame), 'ERR_TOO_LARGE', /more than 1048576 list entries in one message/)
})

test('garbage never throws', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
      const a = decodeReconcileRequest(b)
      const r = decodeReconcileResponse(b)
      if (a.ok) encodeReconcileRequest(a.value)
      if (r.ok) encodeReconcileResponse(r.value)
    }),
    { seed: 13, numRuns: 2000 }
  )
})
