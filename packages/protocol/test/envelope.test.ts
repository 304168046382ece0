import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  MAX_ENVELOPE_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeEnvelope,
  encodeCommand,
  encodeEnvelope,
  meshTopics
} from '../src/index.ts'
import type { DecodeResult, Envelope, Heartbeat } from '../src/index.ts'
import { PEER_A, arbHeartbeat, arbWindow, heartbeat, planCommand, rawEncode, results, wireWindow } from './fixtures.ts'

function ok<T>(r: DecodeResult<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.code}: ${r.reason}`)
  return r.value
}

function refused<T>(r: DecodeResult<T>, code: string, reason: RegExp): void {
  assert.equal(r.ok, false, 'expected the message to be refused')
  if (r.ok) return
  assert.equal(r.code, code, r.reason)
  assert.match(r.reason, reason)
}

const hbEnvelope = (h: Heartbeat = heartbeat()): Envelope => ({ mesh: 'lab', body: { type: 'heartbeat', heartbeat: h } })

test('each envelope body round-trips: heartbeat, signed command, results', () => {
  const signed = {
    payload: encodeCommand(planCommand()),
    public_key: new Uint8Array(36).fill(7),
    signature: new Uint8Array(64).fill(9)
  }
  const envelopes: Envelope[] = [
    hbEnvelope(),
    { mesh: 'lab', body: { type: 'command', command: signed } },
    { mesh: 'lab', body: { type: 'results', results: results({ windows: [wireWindow(), wireWindow({ index: 8, closed: false })] }) } }
  ]
  for (const e of envelopes) assert.deepEqual(ok(decodeEnvelope(encodeEnvelope(e))), e)
})

test('heartbeats round-trip for arbitrary valid values (uint64 up to 2^53 - 1, optional mono_ms)', () => {
  fc.assert(
    fc.property(arbHeartbeat, (h) => {
      const back = ok(decodeEnvelope(encodeEnvelope(hbEnvelope(h))))
      assert.deepEqual(back, hbEnvelope(h))
    }),
    { seed: 42, numRuns: 300 }
  )
})

test('mono_ms keeps its presence: absent stays absent, 0 stays 0', () => {
  const { mono_ms: _, ...without } = heartbeat()
  const a = ok(decodeEnvelope(encodeEnvelope(hbEnvelope(without))))
  assert.equal('mono_ms' in (a.body as { heartbeat: Heartbeat }).heartbeat, false)
  const b = ok(decodeEnvelope(encodeEnvelope(hbEnvelope(heartbeat({ mono_ms: 0 })))))
  assert.equal((b.body as { heartbeat: Heartbeat }).heartbeat.mono_ms, 0)
})

test('results windows round-trip for arbitrary valid windows', () => {
  fc.assert(
    fc.property(fc.array(arbWindow, { minLength: 1, maxLength: 4 }), (windows) => {
      const e: Envelope = { mesh: 'lab', body: { type: 'results', results: results({ windows }) } }
      assert.deepEqual(ok(decodeEnvelope(encodeEnvelope(e))), e)
    }),
    { seed: 7, numRuns: 200 }
  )
})

test('the protocol version is checked first, with a reason that says what to do', () => {
  const bytes = encodeEnvelope(hbEnvelope())
  assert.deepEqual([bytes[0], bytes[1]], [0x08, PROTOCOL_VERSION], 'version is field 1, encoded first')
  const newer = Uint8Array.from(bytes)
  newer[1] = PROTOCOL_VERSION + 1
  refused(decodeEnvelope(newer), 'ERR_VERSION', new RegExp(`version ${PROTOCOL_VERSION + 1} is newer than this peer's ${PROTOCOL_VERSION}; upgrade`))
  // A newer message whose body this peer cannot even read is still reported as a version problem.
  const next = rawEncode('Envelope', { version: PROTOCOL_VERSION + 1, mesh: 'lab', results: { windows: [{ index: 1 }] } })
  refused(decodeEnvelope(next), 'ERR_VERSION', /newer/)
  const none = rawEncode('Envelope', { mesh: 'lab', heartbeat: { peer_id: PEER_A } })
  refused(decodeEnvelope(none), 'ERR_VERSION', /no protocol version/)
})

test('oversized envelopes are refused before decoding, and cannot be encoded', () => {
  const big = new Uint8Array(MAX_ENVELOPE_BYTES + 1)
  refused(decodeEnvelope(big), 'ERR_TOO_LARGE', /65537 bytes, limit 65536/)
  // 60 windows of ~1.2 KB histograms: every field is valid, the whole is too big for gossip.
  const windows = Array.from({ length: 60 }, (_, i) => wireWindow({ index: i, histograms: { ttft: new Uint8Array(1200).fill(1) } }))
  assert.throws(
    () => encodeEnvelope({ mesh: 'lab', body: { type: 'results', results: results({ windows }) } }),
    (e: unknown) => e instanceof ProtocolError && e.code === 'ERR_TOO_LARGE' && /envelope: encodes to \d+ bytes, limit 65536/.test(e.message)
  )
})

test('truncated envelopes are malformed, whatever the cut', () => {
  const bytes = encodeEnvelope({ mesh: 'lab', body: { type: 'results', results: results() } })
  // The body is the last top-level field: every cut after its length prefix leaves it short.
  for (let cut = 8; cut < bytes.length; cut++) {
    refused(decodeEnvelope(bytes.subarray(0, cut)), 'ERR_MALFORMED', /envelope: /)
  }
})

test('garbage and mutated bytes never throw; whatever is accepted is valid (re-encodes)', () => {
  const codes = new Set(['ERR_TOO_LARGE', 'ERR_MALFORMED', 'ERR_VERSION', 'ERR_INVALID_FIELD'])
  const check = (bytes: Uint8Array) => {
    const r = decodeEnvelope(bytes)
    if (r.ok) encodeEnvelope(r.value)
    else assert.ok(codes.has(r.code) && r.reason.length > 0)
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { seed: 1, numRuns: 2000 })
  const valid = encodeEnvelope({ mesh: 'lab', body: { type: 'results', results: results() } })
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
      const b = Uint8Array.from(valid)
      for (const [at, v] of edits) b[at] = v
      check(b)
    }),
    { seed: 2, numRuns: 2000 }
  )
  for (const notBytes of [undefined, null, 'text', [1, 2], {}]) {
    refused(decodeEnvelope(notBytes as unknown as Uint8Array), 'ERR_MALFORMED', /expected a Uint8Array/)
  }
})

test('a body is required, and required fields must be present', () => {
  refused(decodeEnvelope(rawEncode('Envelope', { version: PROTOCOL_VERSION, mesh: 'lab' })), 'ERR_INVALID_FIELD', /no heartbeat, command or results/)
  const noPeer = rawEncode('Envelope', { version: PROTOCOL_VERSION, mesh: 'lab', heartbeat: { role: 'agent', weight: 1 } })
  refused(decodeEnvelope(noPeer), 'ERR_INVALID_FIELD', /heartbeat\.peer_id: is missing/)
  const noMesh = rawEncode('Envelope', { version: PROTOCOL_VERSION, heartbeat: { peer_id: PEER_A, role: 'agent', weight: 1 } })
  refused(decodeEnvelope(noMesh), 'ERR_INVALID_FIELD', /envelope\.mesh: is missing/)
  const noCounters = rawEncode('Envelope', { version: PROTOCOL_VERSION, mesh: 'lab', results: { run_id: 'r', peer_id: PEER_A, windows: [{ index: 1, duration_ms: 1000 }] } })
  refused(decodeEnvelope(noCounters), 'ERR_INVALID_FIELD', /results\.windows\[0\]\.counters: is missing/)
  const emptySig = rawEncode('Envelope', { version: PROTOCOL_VERSION, mesh: 'lab', command: { payload: [1], public_key: [1] } })
  refused(decodeEnvelope(emptySig), 'ERR_INVALID_FIELD', /command\.signature: is missing/)
})

test('out-of-range heartbeat fields are refused with the field named', () => {
  const base = { peer_id: PEER_A, role: 'agent', weight: 1 }
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ weight: 0 }, 'ERR_INVALID_FIELD', /heartbeat\.weight: must be > 0, got 0/],
    [{ weight: -2 }, 'ERR_INVALID_FIELD', /heartbeat\.weight/],
    [{ weight: Number.NaN }, 'ERR_INVALID_FIELD', /heartbeat\.weight: must be a finite number, got NaN/],
    [{ weight: Infinity }, 'ERR_INVALID_FIELD', /heartbeat\.weight: must be a finite number/],
    [{ role: 'king' }, 'ERR_INVALID_FIELD', /heartbeat\.role: must be one of "agent", "controller", got "king"/],
    [{ seq: '9007199254740992' }, 'ERR_INVALID_FIELD', /heartbeat\.seq: must be an integer in 0\.\.9007199254740991, got 9007199254740992/],
    [{ sent: '18446744073709551615' }, 'ERR_INVALID_FIELD', /heartbeat\.sent/],
    [{ achieved_rate: -1 }, 'ERR_INVALID_FIELD', /heartbeat\.achieved_rate: must be ≥ 0/],
    [{ wall_ms: -5 }, 'ERR_INVALID_FIELD', /heartbeat\.wall_ms/],
    [{ peer_id: 'has space' }, 'ERR_INVALID_FIELD', /heartbeat\.peer_id: must be printable ASCII/],
    [{ peer_id: 'x'.repeat(129) }, 'ERR_TOO_LARGE', /heartbeat\.peer_id: 129 characters, limit 128/],
    [{ run_id: 'bad\nid' }, 'ERR_INVALID_FIELD', /heartbeat\.run_id/],
    [{ listen_addrs: Array(33).fill('/ip4/1.2.3.4/tcp/1') }, 'ERR_TOO_LARGE', /Heartbeat\.listen_addrs has more than 32 entries/],
    [{ listen_addrs: ['x'.repeat(257)] }, 'ERR_TOO_LARGE', /heartbeat\.listen_addrs\[0\]: 257 characters/]
  ]
  for (const [over, code, reason] of cases) {
    refused(decodeEnvelope(rawEncode('Envelope', { version: PROTOCOL_VERSION, mesh: 'lab', heartbeat: { ...base, ...over } })), code, reason)
  }
  // The same values are refused on the way out, as programming errors.
  assert.throws(
    () => encodeEnvelope(hbEnvelope(heartbeat({ weight: 0 }))),
    (e: unknown) => e instanceof ProtocolError && e.code === 'ERR_INVALID_FIELD' && /heartbeat\.weight/.test(e.message)
  )
  assert.throws(() => encodeEnvelope(hbEnvelope(heartbeat({ seq: 2 ** 53 }))), /heartbeat\.seq/)
  assert.throws(() => encodeEnvelope(hbEnvelope(heartbeat({ in_flight: 1.5 }))), /heartbeat\.in_flight/)
  assert.throws(() => encodeEnvelope({ mesh: 'a/b', body: hbEnvelope().body }), /envelope\.mesh/)
})

test('out-of-range windows are refused: index, duration, too many windows, histograms, counter keys', () => {
  const w = (over: Record<string, unknown>) => ({ index: 1, duration_ms: 1000, counters: {}, ...over })
  const env = (windows: unknown[]) => rawEncode('Envelope', { version: PROTOCOL_VERSION, mesh: 'lab', results: { run_id: 'r', peer_id: PEER_A, windows } })
  refused(decodeEnvelope(env([w({ duration_ms: 0 })])), 'ERR_INVALID_FIELD', /windows\[0\]\.duration_ms: must be positive/)
  refused(decodeEnvelope(env([w({ index: 10_000_001 })])), 'ERR_INVALID_FIELD', /windows\[0\]\.index: must be an integer in 0\.\.10000000/)
  refused(decodeEnvelope(env([w({ counters: { errors: { 'bad key': 1 } } })])), 'ERR_INVALID_FIELD', /counters\.errors: invalid key "bad key"/)
  refused(decodeEnvelope(env([w({ counters: { errors: JSON.parse('{"__proto__": 1}') } })])), 'ERR_INVALID_FIELD', /invalid key "__proto__"/)
  refused(decodeEnvelope(env([w({ histograms: { ttft: [] } })])), 'ERR_INVALID_FIELD', /histograms\.ttft: is missing/)
  refused(decodeEnvelope(env(Array(4097).fill({}))), 'ERR_TOO_LARGE', /ResultsDelta\.windows has more than 4096 entries/)
  const hs: Record<string, number[]> = {}
  for (let i = 0; i < 33; i++) hs[`m${i}`] = [1]
  refused(decodeEnvelope(env([w({ histograms: hs })])), 'ERR_TOO_LARGE', /Window\.histograms has more than 32 entries/)
})

test('meshTopics names the three gossip topics and refuses names that would break them', () => {
  assert.deepEqual(meshTopics('lab-1'), { state: 'loadmesh/lab-1/state', control: 'loadmesh/lab-1/control', results: 'loadmesh/lab-1/results' })
  for (const bad of ['', 'a/b', 'x'.repeat(65), '-lead', 'sp ace']) assert.throws(() => meshTopics(bad), ProtocolError)
})
