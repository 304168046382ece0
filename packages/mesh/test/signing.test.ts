import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createManualClock } from '@loadmesh/clock'
import { createMeshNode, peerIdFromPublicKey, peerIdOf, publicKeyBytes, verifyPeerSignature, verifySignature } from '../src/index.ts'

const data = new TextEncoder().encode('plan v7: 200 rps for 10m')

test('a node signature verifies against its public key and its peer id alone', async () => {
  const key = await generateKeyPair('Ed25519')
  const node = createMeshNode({ listen: ['/ip4/127.0.0.1/tcp/0'], seeds: [], privateKey: key, meshName: 'm', clock: createManualClock() })
  const sig = await node.sign(data)
  assert.equal(sig.length, 64)
  assert.equal(await verifySignature(node.publicKey(), data, sig), true)
  assert.equal(await verifySignature(key.publicKey.raw, data, sig), true, 'raw 32-byte key accepted too')
  assert.equal(await verifyPeerSignature(node.peerId, data, sig), true)
  assert.equal(peerIdFromPublicKey(node.publicKey()), node.peerId)
  assert.equal(peerIdFromPublicKey(publicKeyBytes(key)), peerIdOf(key))
})

test('tampered data, another key or garbage never verify (and never throw)', async () => {
  const key = await generateKeyPair('Ed25519')
  const other = await generateKeyPair('Ed25519')
  const node = createMeshNode({ listen: ['/ip4/127.0.0.1/tcp/0'], seeds: [], privateKey: key, meshName: 'm', clock: createManualClock() })
  const sig = await node.sign(data)
  const tampered = Uint8Array.from(data)
  tampered[0] ^= 1
  assert.equal(await verifySignature(node.publicKey(), tampered, sig), false)
  assert.equal(await verifySignature(publicKeyBytes(other), data, sig), false)
  assert.equal(await verifyPeerSignature(peerIdOf(other), data, sig), false)
  assert.equal(await verifySignature(new Uint8Array(5), data, sig), false)
  assert.equal(await verifySignature(node.publicKey(), data, sig.subarray(0, 63)), false)
  assert.equal(await verifyPeerSignature('not-a-peer-id', data, sig), false)
  assert.throws(() => peerIdFromPublicKey(new Uint8Array(3)), /not an Ed25519 public key/)
})

test('signatures are domain-separated: a plain Ed25519 signature over the same bytes does not verify', async () => {
  const key = await generateKeyPair('Ed25519')
  const plain = await key.sign(data)
  assert.equal(await verifySignature(publicKeyBytes(key), data, plain), false)
})
