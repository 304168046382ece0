import { link, mkdir, readFile, rename, writeFile, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomUUID } from 'node:crypto'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { IdentityError } from './errors.ts'

/** A libp2p private key (the mesh only creates and accepts Ed25519 keys). */
export type MeshPrivateKey = Parameters<typeof privateKeyToProtobuf>[0]

/**
 * Loads the node's Ed25519 private key from `path`, creating it (mode 0600, parent directories 0700)
 * when the file does not exist. The peer id derives from this key, so keeping the file keeps the
 * peer id across restarts, which is what lets peers, reports and allow-lists recognise a node.
 *
 * The file holds the key protobuf-marshalled by @libp2p/crypto (`privateKeyToProtobuf`), the same
 * bytes other libp2p tools use.
 */
export async function loadOrCreateIdentity(path: string): Promise<MeshPrivateKey> {
  const existing = await readIfExists(path)
  if (existing !== undefined) return decode(existing, path)

  const key = await generateKeyPair('Ed25519')
  const bytes = privateKeyToProtobuf(key)
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    // Write aside then link into place with a no-overwrite rename so a crash never leaves a half
    // key, and two processes starting together agree on one key (the loser reads the winner's).
    const tmp = `${path}.${randomUUID()}.tmp`
    await writeFile(tmp, bytes, { mode: 0o600, flag: 'wx' })
    try {
      await linkNoReplace(tmp, path)
    } finally {
      await unlink(tmp).catch(() => {})
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const winner = await readIfExists(path)
      if (winner !== undefined) return decode(winner, path)
    }
    throw new IdentityError(`identity file ${path} cannot be created: ${(err as Error).message}`)
  }
  return key
}

/** The peer id (base58 string, `12D3Koo…`) that belongs to a private key. */
export function peerIdOf(key: MeshPrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new IdentityError(`identity file ${path} cannot be read: ${(err as Error).message}`)
  }
}

function decode(bytes: Uint8Array, path: string): MeshPrivateKey {
  let key: MeshPrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityError(
      `identity file ${path} is corrupt (${bytes.length} bytes, not a protobuf-encoded libp2p private key: ${(err as Error).message}); ` +
      'restore it from a backup, or delete it to create a new identity (the peer id will change)'
    )
  }
  if (key.type !== 'Ed25519') {
    throw new IdentityError(`identity file ${path} holds a ${key.type} key; loadmesh needs an Ed25519 key`)
  }
  return key
}

async function linkNoReplace(from: string, to: string): Promise<void> {
  try {
    await link(from, to)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // Some filesystems (certain network or FUSE mounts) have no hard links; fall back to rename,
    // which can replace a concurrently created file, a race we accept there.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') {
      await rename(from, to)
      return
    }
    throw err
  }
}
