import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PROTOCOL_VERSION } from '../src/index.ts'
import { MAX_ENCODED_BREAKDOWN_BYTES } from '@loadmesh/metrics'
import { LIMITS, ProtocolError, decodeReconcileResponse, encodeReconcileResponse } from '../src/index.ts'
import type { DecodeResult, ReconcileResponse } from '../src/index.ts'
import { PEER_A, PEER_B, rawEncode, wireWindow } from './fixtures.ts'

function ok<T>(r: DecodeResult<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.code}: ${r.reason}`)
  return r.value
}

test('PeerWindows.breakdown: carried as opaque bytes, absent stays absent, empty means none', () => {
  const breakdown = new TextEncoder().encode('{"v":1}')
  const response: ReconcileResponse = {
    run_id: 'run-1',
    responder: PEER_A,
    peers: [
      { peer_id: PEER_A, windows: [wireWindow()], live: true, breakdown },
      { peer_id: PEER_B, windows: [], live: false }
    ]
  }
  const d = ok(decodeReconcileResponse(encodeReconcileResponse(response)))
  assert.deepEqual(d.peers[0].breakdown, breakdown)
  assert.equal('breakdown' in d.peers[1], false)
  const empty = ok(decodeReconcileResponse(encodeReconcileResponse({ ...response, peers: [{ peer_id: PEER_B, windows: [], live: true, breakdown: new Uint8Array() }] })))
  assert.equal('breakdown' in empty.peers[0], false)
})

test('PeerWindows.breakdown: a response from a peer that predates the field decodes without one', () => {
  const old = rawEncode('ReconcileResponse', { version: PROTOCOL_VERSION, run_id: 'run-1', responder: PEER_A, peers: [{ peer_id: PEER_A, windows: [], live: true }] })
  assert.equal('breakdown' in ok(decodeReconcileResponse(old)).peers[0], false)
})

test('PeerWindows.breakdown over the limit is refused on both sides (ERR_TOO_LARGE), and the limit is metrics\' own', () => {
  assert.equal(LIMITS.breakdownBytes, MAX_ENCODED_BREAKDOWN_BYTES)
  const big = new Uint8Array(LIMITS.breakdownBytes + 1)
  const response: ReconcileResponse = { run_id: 'run-1', responder: PEER_A, peers: [{ peer_id: PEER_A, windows: [], live: true, breakdown: big }] }
  assert.throws(() => encodeReconcileResponse(response), (err: unknown) => err instanceof ProtocolError && err.code === 'ERR_TOO_LARGE' && /breakdown/.test(err.message))
  const raw = rawEncode('ReconcileResponse', { version: PROTOCOL_VERSION, run_id: 'run-1', responder: PEER_A, peers: [{ peer_id: PEER_A, windows: [], live: true, breakdown: big }] })
  const r = decodeReconcileResponse(raw)
  assert.equal(r.ok, false)
  if (!r.ok) {
    assert.equal(r.code, 'ERR_TOO_LARGE')
    assert.match(r.reason, /peers\[0\]\.breakdown/)
  }
})
