import { MeshConfigError } from './errors.ts'

/**
 * Gossip topic naming. User topics (`state`, `control`, `results`) live under
 * `loadmesh/<meshName>/`, so two meshes sharing a network (or a swarm key) never see each other's
 * traffic. Names starting with `_` are reserved for the mesh's own topics (peer exchange).
 */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/

export function validateMeshName(meshName: string): string {
  if (!NAME.test(meshName)) {
    throw new MeshConfigError(`mesh name "${meshName}" is invalid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
  return meshName
}

export function validateTopic(topic: string): string {
  if (!NAME.test(topic)) {
    throw new MeshConfigError(`topic "${topic}" is invalid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
  return topic
}

export function fullTopic(meshName: string, topic: string): string {
  return `loadmesh/${meshName}/${topic}`
}

/** The internal topic on which peers announce their addresses (see peer-exchange.ts). */
export function peerExchangeTopic(meshName: string): string {
  return `loadmesh/${meshName}/_peers`
}

/**
 * The stream protocol a node answers with its peer list (see mesh-node.ts). The mesh name is part
 * of it so that nodes of two meshes sharing a swarm key do not pull each other into one mesh.
 */
export function peerListProtocol(meshName: string): string {
  return `/loadmesh/${meshName}/peers/1.0.0`
}

export function validateProtocol(protocol: string): string {
  if (!/^\/[\x21-\x7e]{1,127}$/.test(protocol)) {
    throw new MeshConfigError(`stream protocol "${protocol}" is invalid: expected a path like /loadmesh/reconcile/1.0.0`)
  }
  return protocol
}
