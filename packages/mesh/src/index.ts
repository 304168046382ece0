export { createMeshNode } from './mesh-node.ts'
export type {
  MeshNode, MeshNodeOptions, MeshStats, GossipHandler, PublishOptions, StreamHandlerOptions, RequestOptions, ClockProbeOptions
} from './mesh-node.ts'
export type { StreamRequestHandler, StreamHandlerContext } from './request-response.ts'
export type { ClockProbe, PreciseWall } from './clock-sync.ts'
export { ClockSyncError, createPreciseWall, sharedPreciseWall, clockProtocol } from './clock-sync.ts'
export type { GossipTuning } from './gossip-options.ts'
export { DEFAULT_GOSSIP_TUNING } from './gossip-options.ts'
export { generateSwarmKey, parseSwarmKey, readSwarmKey, writeSwarmKey } from './swarm-key.ts'
export { loadOrCreateIdentity, peerIdOf } from './identity.ts'
export type { MeshPrivateKey } from './identity.ts'
export { parseSeeds, parseSeed } from './seeds.ts'
export { verifySignature, verifyPeerSignature, peerIdFromPublicKey, publicKeyBytes } from './signing.ts'
export type { MeshLogger } from './logger.ts'
export type { Multiaddr } from '@multiformats/multiaddr'
export {
  SwarmKeyError, IdentityError, SeedError, MeshConfigError, MeshStateError, MessageTooLargeError,
  RequestTimeoutError, RequestFailedError, RemoteError
} from './errors.ts'
