import { ProtocolError } from './errors.ts'
import { isValidMeshName } from './fields.ts'

export interface MeshTopics {
  /** Heartbeats. */
  state: string
  /** Signed commands. */
  control: string
  /** Results deltas. */
  results: string
}

/** The gossipsub topic names of a mesh. Throws ProtocolError for a name that cannot be a mesh name. */
export function meshTopics(mesh: string): MeshTopics {
  if (!isValidMeshName(mesh)) {
    throw new ProtocolError('ERR_INVALID_FIELD', `mesh name ${JSON.stringify(mesh)}: use 1..64 letters, digits, ".", "_" or "-"`)
  }
  return { state: `loadmesh/${mesh}/state`, control: `loadmesh/${mesh}/control`, results: `loadmesh/${mesh}/results` }
}
