/**
 * Errors of the mesh package. Each has a stable `name` and `code` so callers (agent, CLI) can react
 * or count without parsing messages; messages name the bad input and where it came from (a file, a
 * seed, a peer, a protocol).
 */

/** A swarm key file or string that is missing or not in the `/key/swarm/psk/1.0.0/` base16 format. */
export class SwarmKeyError extends Error {
  override name = 'SwarmKeyError'
  readonly code = 'ERR_BAD_SWARM_KEY'
}

/** An identity (private key) file that cannot be read, parsed or written. */
export class IdentityError extends Error {
  override name = 'IdentityError'
  readonly code = 'ERR_BAD_IDENTITY'
}

/** A `--seeds` entry that is neither `host:port`, `[v6]:port` nor a TCP multiaddr. */
export class SeedError extends Error {
  override name = 'SeedError'
  readonly code = 'ERR_BAD_SEED'
}

/** Bad options given to `createMeshNode`, a bad topic or protocol name. */
export class MeshConfigError extends Error {
  override name = 'MeshConfigError'
  readonly code = 'ERR_MESH_CONFIG'
}

/** An operation that needs a running node was called before `start()` or after `stop()`. */
export class MeshStateError extends Error {
  override name = 'MeshStateError'
  readonly code = 'ERR_MESH_NOT_RUNNING'
}

/** A gossip message, request or response over its size limit (refused before it is sent or buffered). */
export class MessageTooLargeError extends Error {
  override name = 'MessageTooLargeError'
  readonly code = 'ERR_MESSAGE_TOO_LARGE'
}

/** A request that got no complete response within its timeout. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError'
  readonly code = 'ERR_REQUEST_TIMEOUT'
}

/** A request that failed locally: the peer could not be dialled, does not speak the protocol, reset the stream. */
export class RequestFailedError extends Error {
  override name = 'RequestFailedError'
  readonly code = 'ERR_REQUEST_FAILED'
}

/**
 * The remote peer answered with an error (its handler threw, our request was over its limit, its
 * response would have been over its limit). `remoteCode` is the code the remote reported.
 */
export class RemoteError extends Error {
  override name = 'RemoteError'
  readonly code = 'ERR_REMOTE'
  readonly remoteCode: string
  constructor(remoteCode: string, message: string) {
    super(message)
    this.remoteCode = remoteCode
  }
}
