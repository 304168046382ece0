import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { createManualClock } from '@loadmesh/clock'
import { createMeshNode, loadOrCreateIdentity, peerIdOf, IdentityError } from '../src/index.ts'

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), 'loadmesh-id-'))
}

test('the identity file is created once (0600, parent dirs made) and gives the same peer id on every load', async () => {
  const dir = await tempDir()
  const path = join(dir, 'state', 'nested', 'identity.key')
  const first = await loadOrCreateIdentity(path)
  const second = await loadOrCreateIdentity(path)
  assert.equal(first.type, 'Ed25519')
  assert.equal(peerIdOf(second), peerIdOf(first))
  assert.match(peerIdOf(first), /^12D3KooW/)
  assert.equal((await stat(path)).mode & 0o777, 0o600)
  // no temp files left next to it
  assert.deepEqual(await readdir(join(dir, 'state', 'nested')), ['identity.key'])
  // and the mesh node built from it carries that peer id before it even starts
  const node = createMeshNode({ listen: ['/ip4/127.0.0.1/tcp/0'], seeds: [], privateKey: second, meshName: 'm', clock: createManualClock() })
  assert.equal(node.peerId, peerIdOf(first))
})

test('two processes creating the identity at once end up with one key', async () => {
  const path = join(await tempDir(), 'identity.key')
  const keys = await Promise.all([1, 2, 3, 4].map(async () => await loadOrCreateIdentity(path)))
  const ids = new Set(keys.map(peerIdOf))
  assert.equal(ids.size, 1)
  assert.equal(peerIdOf(await loadOrCreateIdentity(path)), [...ids][0])
})

test('a corrupt identity file is an error naming the file, not a silent new identity', async () => {
  const path = join(await tempDir(), 'identity.key')
  await writeFile(path, new Uint8Array([1, 2, 3, 4, 5]))
  await assert.rejects(loadOrCreateIdentity(path), (err: unknown) => {
    assert.ok(err instanceof IdentityError)
    assert.equal(err.code, 'ERR_BAD_IDENTITY')
    assert.match(err.message, new RegExp(`identity file ${path} is corrupt \\(5 bytes`))
    assert.match(err.message, /delete it to create a new identity/)
    return true
  })
})

test('an identity file holding a non-Ed25519 key is refused', async () => {
  const path = join(await tempDir(), 'identity.key')
  await writeFile(path, privateKeyToProtobuf(await generateKeyPair('secp256k1')))
  await assert.rejects(loadOrCreateIdentity(path), /holds a secp256k1 key; loadmesh needs an Ed25519 key/)
})

test('an identity path that cannot be created is an IdentityError naming it', async () => {
  const dir = await tempDir()
  const blocker = join(dir, 'file')
  await writeFile(blocker, 'x')
  const path = join(blocker, 'identity.key') // parent is a regular file
  await assert.rejects(loadOrCreateIdentity(path), (err: unknown) => {
    assert.ok(err instanceof IdentityError)
    assert.match(err.message, new RegExp(`identity file ${path} cannot be (created|read)`))
    return true
  })
})
