/**
 * Errors of the mesh-state package. Only programming errors throw (a bad argument handed to a
 * function); untrusted input from peers is refused and counted, never thrown to the caller.
 */

/** A member list that cannot be turned into shares: duplicate peer ids, or a weight that is not > 0. */
export class MembersError extends Error {
  override name = 'MembersError'
  readonly code = 'ERR_BAD_MEMBERS'
}

/** An option or argument outside its domain (a negative timeout, a non-integer concurrency, ...). */
export class MeshArgumentError extends Error {
  override name = 'MeshArgumentError'
  readonly code = 'ERR_BAD_ARGUMENT'
}
