/**
 * The peer-exchange announcement: "I am reachable at these addresses, and these are the peers I am
 * connected to and where they listen". It travels on the mesh's internal `_peers` gossip topic.
 * Listing neighbours lets a node that joined through one seed learn every other peer from the
 * seed's first announcement, instead of waiting for each peer's own announcement to be relayed.
 *
 * Who sent it is the gossip message's authenticated `from` (StrictSign). Third-party entries are
 * only hints: dialling `/p2p/<id>` makes noise check that whoever answers holds that id's key, and
 * the swarm key still gates who can connect at all.
 *
 * Encoded as protobuf by hand (small, no generated code):
 *
 *   message PeerAnnounce {
 *     uint32 version = 1;            // 1
 *     repeated PeerEntry peers = 2;  // the sender first
 *   }
 *   message PeerEntry {
 *     string peer_id = 1;            // base58 peer id, as printed (12D3Koo…)
 *     repeated bytes addrs = 2;      // binary multiaddrs, without /p2p/
 *   }
 *
 * Unknown fields are skipped so later versions can add some; anything malformed or over the limits
 * throws, and the caller counts and drops it.
 */
export const PEER_ANNOUNCE_VERSION = 1
export const MAX_ANNOUNCE_BYTES = 16 * 1024
export const MAX_ANNOUNCE_PEERS = 32
export const MAX_PEER_ADDRS = 8
const MAX_FIELD_BYTES = 256

export interface PeerEntry {
  peerId: string
  addrs: Uint8Array[]
}

export interface PeerAnnounce {
  version: number
  peers: PeerEntry[]
}

export function encodePeerAnnounce(peers: readonly PeerEntry[]): Uint8Array {
  const out: number[] = []
  writeVarint(out, (1 << 3) | 0)
  writeVarint(out, PEER_ANNOUNCE_VERSION)
  for (const p of peers.slice(0, MAX_ANNOUNCE_PEERS)) {
    const entry: number[] = []
    writeBytesField(entry, 1, new TextEncoder().encode(p.peerId))
    for (const a of p.addrs.filter((x) => x.length <= MAX_FIELD_BYTES).slice(0, MAX_PEER_ADDRS)) writeBytesField(entry, 2, a)
    writeBytesField(out, 2, entry)
  }
  return Uint8Array.from(out)
}

export function decodePeerAnnounce(buf: Uint8Array): PeerAnnounce {
  if (buf.length > MAX_ANNOUNCE_BYTES) throw new Error(`announcement is ${buf.length} bytes, over ${MAX_ANNOUNCE_BYTES}`)
  let version = 0
  const peers: PeerEntry[] = []
  const r = new Reader(buf)
  while (!r.done()) {
    const { field, wire } = r.tag()
    if (field === 1 && wire === 0) version = r.varint()
    else if (field === 2 && wire === 2) {
      if (peers.length >= MAX_ANNOUNCE_PEERS) throw new Error(`more than ${MAX_ANNOUNCE_PEERS} peers`)
      peers.push(decodeEntry(r.bytes(MAX_ANNOUNCE_BYTES)))
    } else r.skip(wire)
  }
  if (version < 1) throw new Error('missing version')
  return { version, peers }
}

function decodeEntry(buf: Uint8Array): PeerEntry {
  let peerId: string | undefined
  const addrs: Uint8Array[] = []
  const r = new Reader(buf)
  while (!r.done()) {
    const { field, wire } = r.tag()
    if (field === 1 && wire === 2) peerId = new TextDecoder('utf-8', { fatal: true }).decode(r.bytes(MAX_FIELD_BYTES))
    else if (field === 2 && wire === 2) {
      if (addrs.length >= MAX_PEER_ADDRS) throw new Error(`more than ${MAX_PEER_ADDRS} addresses for one peer`)
      addrs.push(r.bytes(MAX_FIELD_BYTES))
    } else r.skip(wire)
  }
  if (peerId === undefined || peerId.length === 0) throw new Error('peer entry without a peer id')
  return { peerId, addrs }
}

function writeBytesField(out: number[], field: number, bytes: ArrayLike<number>): void {
  writeVarint(out, (field << 3) | 2)
  writeVarint(out, bytes.length)
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i])
}

function writeVarint(out: number[], value: number): void {
  let v = value >>> 0
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  out.push(v)
}

class Reader {
  private readonly buf: Uint8Array
  private i = 0
  constructor(buf: Uint8Array) {
    this.buf = buf
  }

  done(): boolean {
    return this.i >= this.buf.length
  }

  tag(): { field: number, wire: number } {
    const t = this.varint()
    if (t >>> 3 === 0) throw new Error('field number 0')
    return { field: t >>> 3, wire: t & 7 }
  }

  varint(): number {
    let result = 0
    // Five bytes hold any uint32; anything longer is a 64-bit value we never use, or garbage.
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.i >= this.buf.length) throw new Error('truncated varint')
      const b = this.buf[this.i++]
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new Error('varint over 32 bits')
        return result
      }
    }
    throw new Error('varint too long')
  }

  bytes(max: number): Uint8Array {
    const len = this.varint()
    if (len > max) throw new Error(`field of ${len} bytes, over ${max}`)
    if (this.i + len > this.buf.length) throw new Error('truncated field')
    const out = this.buf.slice(this.i, this.i + len)
    this.i += len
    return out
  }

  skip(wire: number): void {
    switch (wire) {
      case 0: this.skipVarint(); return
      case 1: this.advance(8); return
      case 2: this.advance(this.varint()); return
      case 5: this.advance(4); return
      default: throw new Error(`unsupported wire type ${wire}`)
    }
  }

  private skipVarint(): void {
    // Unknown varint fields may hold 64-bit values: skip up to the 10 bytes those take.
    for (let n = 0; n < 10; n++) {
      if (this.i >= this.buf.length) throw new Error('truncated varint')
      if ((this.buf[this.i++] & 0x80) === 0) return
    }
    throw new Error('varint too long')
  }

  private advance(n: number): void {
    if (this.i + n > this.buf.length) throw new Error('truncated field')
    this.i += n
  }
}
