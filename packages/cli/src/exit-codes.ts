/**
 * Exit codes are part of the CLI's contract (docs/cli.md): CI pipelines branch on them.
 * Kept distinct so a script can tell "the server failed the test" from "the test was set up wrong".
 */
export const EXIT = {
  /** The run completed and every gate passed. */
  OK: 0,
  /** loadmesh itself failed (a bug or an unexpected environment problem). */
  INTERNAL: 1,
  /** Bad flags, plan file or spec: nothing was run. */
  USAGE: 2,
  /** The run completed but failed requests / sent exceeded --max-error-rate. */
  ERROR_RATE: 3,
  /** The run completed but an SLO gate failed (--fail-on-slo). */
  SLO: 4,
  /** Mesh commands: the mesh could not be reached, or too few agents joined in time. */
  NO_MESH: 5,
  /** Interrupted (Ctrl-C); the partial report was still written. */
  INTERRUPTED: 130
} as const

export class UsageError extends Error {
  override name = 'UsageError'
  readonly code = 'ERR_USAGE'
  readonly hint: string | undefined
  constructor (message: string, hint?: string) {
    super(message)
    this.hint = hint
  }
}

/** The mesh could not be reached or did not have what the command needs (agents, a run): exit 5. */
export class MeshUnavailableError extends Error {
  override name = 'MeshUnavailableError'
  readonly code = 'ERR_MESH_UNAVAILABLE'
  readonly hint: string | undefined
  constructor (message: string, hint?: string) {
    super(message)
    this.hint = hint
  }
}
