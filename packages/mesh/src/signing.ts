import { publicKeyFromProtobuf, publicKeyFromRaw, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey as libp2pPeerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import type { MeshPrivateKey } from './identity.ts'

/**
 * Ed25519 signatures with the node's identity key, for application messages such as signed run
 * plans. Every signature covers `loadmesh/sig/v1:` followed by the data: the same key also signs
 * noise handshakes and gossip envelopes, and the prefix makes sure a loadmesh signature can never be
 * replayed as one of those (or the reverse).
 *
 * Verification never throws on untrusted input: a malformed key, peer id or signature is simply
 * "not valid".
 */
const DOMAIN = new TextEncoder().encode('loadmesh/sig/v1:')

type PublicKey = ReturnType<typeof publicKeyFromProtobuf>

export async function signBytes(key: MeshPrivateKey, data: Uint8Array): Promise<Uint8Array> {
  return await key.sign(withDomain(data))
}

/** The public key, protobuf-marshalled (the libp2p wire form, 36 bytes for Ed25519). */
export function publicKeyBytes(key: MeshPrivateKey): Uint8Array {
  return publicKeyToProtobuf(key.publicKey)
}

/**
 * Checks a signature made by `signBytes`. `publicKey` is the protobuf-marshalled key (as from
 * `publicKeyBytes`) or the raw 32-byte Ed25519 key.
 */
export async function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const key = decodePublicKey(publicKey)
  if (key === undefined) return false
  return await verifyWith(key, data, signature)
}

/**
 * Checks a signature against a peer id alone: Ed25519 peer ids embed their public key, so an
 * allow-list of controller peer ids is enough to verify signed plans.
 */
export async function verifyPeerSignature(peerId: string, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  let key: PublicKey | undefined
  try {
    key = peerIdFromString(peerId).publicKey as PublicKey | undefined
  } catch {
    return false
  }
  if (key === undefined || key.type !== 'Ed25519') return false
  return await verifyWith(key, data, signature)
}

/** The peer id string of a public key (protobuf-marshalled or raw Ed25519). Throws on a malformed key. */
export function peerIdFromPublicKey(publicKey: Uint8Array): string {
  const key = decodePublicKey(publicKey)
  if (key === undefined) throw new TypeError(`not an Ed25519 public key (${publicKey.length} bytes)`)
  return libp2pPeerIdFromPublicKey(key).toString()
}

function decodePublicKey(bytes: Uint8Array): PublicKey | undefined {
  try {
    const key = bytes.length === 32 ? publicKeyFromRaw(bytes) : publicKeyFromProtobuf(bytes)
    return key.type === 'Ed25519' ? key : undefined
  } catch {
    return undefined
  }
}

async function verifyWith(key: PublicKey, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  // Ed25519 signatures are exactly 64 bytes; anything else is garbage, not worth a verify call.
  if (signature.length !== 64) return false
  try {
    return await key.verify(withDomain(data), signature)
  } catch {
    return false
  }
}

function withDomain(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(DOMAIN.length + data.length)
  out.set(DOMAIN, 0)
  out.set(data, DOMAIN.length)
  return out
}
