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
