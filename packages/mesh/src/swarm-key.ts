import { readFile, writeFile } from 'node:fs/promises'
import { generateKey } from '@libp2p/pnet'
import { SwarmKeyError } from './errors.ts'

/**
 * Swarm keys use the format shared by go-ipfs/kubo and @libp2p/pnet, so a key made by either tool works
 * with the other:
 *
 *   /key/swarm/psk/1.0.0/
 *   /base16/
 *   <64 hex digits: 32 random bytes>
 *
 * Only base16 is accepted because @libp2p/pnet decodes nothing else.
 */
const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'
const HEX_64 = /^[0-9a-fA-F]{64}$/
// @libp2p/pnet writes exactly this many bytes: header, codec, 64 hex digits and two newlines.
const GENERATED_LENGTH = HEADER.length + 1 + CODEC.length + 1 + 64

/** A fresh random swarm key, as text in the canonical format (no trailing newline). */
export function generateSwarmKey(): string {
  const bytes = new Uint8Array(GENERATED_LENGTH)
  generateKey(bytes)
  return new TextDecoder().decode(bytes)
}

/**
 * Validates swarm key text and returns it in canonical form (lower-case hex, `\n` line ends, no
 * trailing newline) so that keys copied between editors and operating systems still match byte for
 * byte, which the pre-shared-key protector requires. `source` names where the text came from.
 */
export function parseSwarmKey(text: string, source = 'swarm key'): string {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).map((l) => l.trim())
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  if (lines.length === 0) {
    throw new SwarmKeyError(`${source}: empty; expected "${HEADER}", "${CODEC}" and 64 hex digits on three lines (generate one with \`loadmesh keygen\`)`)
  }
  if (lines[0] !== HEADER) {
    throw new SwarmKeyError(`${source}: line 1 is "${clip(lines[0])}", expected "${HEADER}"`)
  }
  if (lines.length < 3) {
    throw new SwarmKeyError(`${source}: has ${lines.length} line(s); expected "${HEADER}", "${CODEC}" and 64 hex digits on three lines`)
  }
  if (lines[1] !== CODEC) {
    throw new SwarmKeyError(`${source}: line 2 is "${clip(lines[1])}", expected "${CODEC}" (only base16 keys are supported)`)
  }
  if (!HEX_64.test(lines[2])) {
    // The key line is secret material: describe what is wrong with it, never echo it.
    const what = /^[0-9a-fA-F]*$/.test(lines[2]) ? `${lines[2].length} hex digits` : `${lines[2].length} characters, not all hex digits`
    throw new SwarmKeyError(`${source}: line 3 must be 64 hex digits (32 bytes); got ${what}`)
  }
  if (lines.length > 3) {
    throw new SwarmKeyError(`${source}: unexpected content after line 3 ("${clip(lines[3])}")`)
  }
  return `${HEADER}\n${CODEC}\n${lines[2].toLowerCase()}`
}

/** Reads and validates a swarm key file; errors name the file and what is wrong with it. */
export async function readSwarmKey(path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new SwarmKeyError(`swarm key file ${path} does not exist (create one with \`loadmesh keygen\`, or run with --insecure)`)
    }
    throw new SwarmKeyError(`swarm key file ${path} cannot be read: ${(err as Error).message}`)
  }
  return parseSwarmKey(text, `swarm key file ${path}`)
}

/**
 * Writes a swarm key file readable only by its owner. Refuses to overwrite an existing file: a
 * replaced key silently splits a running mesh in two.
 */
export async function writeSwarmKey(path: string, key: string): Promise<void> {
  const canonical = parseSwarmKey(key)
  try {
    await writeFile(path, canonical + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new SwarmKeyError(`swarm key file ${path} already exists; refusing to overwrite it`)
    throw new SwarmKeyError(`swarm key file ${path} cannot be written: ${(err as Error).message}`)
  }
}

/** The key bytes @libp2p/pnet wants: the canonical text, UTF-8 encoded. */
export function swarmKeyBytes(key: string): Uint8Array {
  return new TextEncoder().encode(parseSwarmKey(key))
}

function clip(s: string): string {
  // Never echo a whole key line into logs: 12 characters identify the problem without leaking it.
  return s.length > 12 ? `${s.slice(0, 12)}…` : s
}
