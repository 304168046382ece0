import { encodeCommand, decodeCommand, signingBytes } from '@loadmesh/protocol'
import type { Command, SignedCommand } from '@loadmesh/protocol'
import type { MeshNode } from '@loadmesh/mesh'

/** Why a signed command was refused; counted under these names in MeshAgent.stats().rejected. */
export type CommandRejection =
  | 'bad-signature'
  | 'bad-public-key'
  | 'issuer-mismatch'
  | 'not-controller'
  | 'wrong-mesh'
  | `command-${string}`

export type VerifiedCommand = { ok: true; command: Command } | { ok: false; reason: CommandRejection }

/** Signs with the node's identity key over signingBytes(payload) (the mesh adds its own domain prefix). */
export async function signCommand(node: MeshNode, command: Command): Promise<SignedCommand> {
  const payload = encodeCommand(command)
  return { payload, public_key: node.publicKey(), signature: await node.sign(signingBytes(payload)) }
}

/**
 * Checks an untrusted SignedCommand: the signature over the payload as received, the embedded key
 * against the claimed issuer, the mesh, and (for plan, stop and abort) the controller allow-list.
 * Epoch proposals come from agents, so any swarm member with a valid signature may issue them.
 * Never throws.
 */
export async function verifyCommand(
  signed: SignedCommand,
  meshName: string,
  controllers: readonly string[]
): Promise<VerifiedCommand> {
  // Loaded on first use: importing @loadmesh/agent for a local run must not load libp2p (~1.7 s).
  const { verifySignature, peerIdFromPublicKey } = await import('@loadmesh/mesh')
  if (!(await verifySignature(signed.public_key, signingBytes(signed.payload), signed.signature))) {
    return { ok: false, reason: 'bad-signature' }
  }
  let signer: string
  try {
    signer = peerIdFromPublicKey(signed.public_key)
  } catch {
    return { ok: false, reason: 'bad-public-key' }
  }
  const decoded = decodeCommand(signed.payload)
  if (!decoded.ok) return { ok: false, reason: `command-${decoded.code}` }
  const command = decoded.value
  if (command.issuer !== signer) return { ok: false, reason: 'issuer-mismatch' }
  if (command.mesh !== meshName) return { ok: false, reason: 'wrong-mesh' }
  if (command.body.type !== 'epoch' && controllers.length > 0 && !controllers.includes(signer)) {
    return { ok: false, reason: 'not-controller' }
  }
  return { ok: true, command }
}
