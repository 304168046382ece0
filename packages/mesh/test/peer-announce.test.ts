import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { multiaddr } from '@multiformats/multiaddr'
import { decodePeerAnnounce, encodePeerAnnounce, MAX_ANNOUNCE_PEERS, MAX_PEER_ADDRS } from '../src/peer-announce.ts'

const PEER = '12D3KooWGYaj2ryg8V2B5bNQVEB87XiZyj23V4ZL8YoMb8CKsBmQ'

test('an announcement round-trips peers and their binary multiaddrs', () => {
  const addrs = [multiaddr('/ip4/10.0.0.1/tcp/4001').bytes, multiaddr('/dns4/a.example/tcp/1').bytes]
  const decoded = decodePeerAnnounce(encodePeerAnnounce([{ peerId: PEER, addrs }, { peerId: 'other', addrs: [] }]))
  assert.equal(decoded.version, 1)
  assert.equal(decoded.peers.length, 2)
  assert.equal(decoded.peers[0].peerId, PEER)
  assert.deepEqual(decoded.peers[0].addrs.map((a) => multiaddr(a).toString()), ['/ip4/10.0.0.1/tcp/4001', '/dns4/a.example/tcp/1'])
  assert.deepEqual(decoded.peers[1], { peerId: 'other', addrs: [] })
})

test('the encoder keeps messages within the decoder limits (peers, addresses per peer)', () => {
  const many = Array.from({ length: 50 }, (_, i) => ({ peerId: `p${i}`, addrs: Array.from({ length: 20 }, () => new Uint8Array(10)) }))
  const decoded = decodePeerAnnounce(encodePeerAnnounce(many))
  assert.equal(decoded.peers.length, MAX_ANNOUNCE_PEERS)
  assert.ok(decoded.peers.every((p) => p.addrs.length === MAX_PEER_ADDRS))
})

test('unknown fields from a later version are skipped', () => {
  const base = encodePeerAnnounce([{ peerId: PEER, addrs: [] }])
  // field 9 varint (64-bit value), field 10 bytes, field 11 fixed32, field 12 fixed64
  const extra = [0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x52, 2, 7, 7, 0x5d, 1, 2, 3, 4, 0x61, 1, 2, 3, 4, 5, 6, 7, 8]
  const decoded = decodePeerAnnounce(Uint8Array.from([...extra, ...base]))
  assert.equal(decoded.peers[0].peerId, PEER)
})

test('malformed announcements throw (to be counted and dropped), never hang or return garbage silently', () => {
  const bad: Array<[number[], RegExp]> = [
    [[], /missing version/],
    [[0x08], /truncated varint/],
    [[0x08, 1, 0x12, 5, 0x0a], /truncated field/],
    [[0x08, 1, 0x12, 0], /without a peer id/],
    [[0x08, 1, 0x12, 3, 0x0a, 1, 0xff], /encoded data was not valid|invalid|not valid/i],
    [[0x08, 1, 0x0f], /unsupported wire type 7/],
    [[0x00], /field number 0/]
  ]
  for (const [bytes, re] of bad) assert.throws(() => decodePeerAnnounce(Uint8Array.from(bytes)), re, JSON.stringify(bytes))
  assert.throws(() => decodePeerAnnounce(new Uint8Array(20_000)), /over 16384/)
})

test('decoding arbitrary bytes either succeeds or throws an Error', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    try {
      const d = decodePeerAnnounce(bytes)
      assert.ok(d.version >= 1)
    } catch (err) {
      assert.ok(err instanceof Error)
    }
  }), { seed: 7, numRuns: 2000 })
})
