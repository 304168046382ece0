/**
 * Errors of the metrics package. Each has a stable `name` and `code` so callers (the mesh, the CLI)
 * can count or report them without parsing messages; messages name the bad input and where it came from.
 */

/** An encoded histogram or window snapshot that we refuse to accept (garbage, oversized, foreign config). */
export class MetricsDecodeError extends Error {
  override name = 'MetricsDecodeError'
  readonly code: 'ERR_BAD_HISTOGRAM' | 'ERR_BAD_SNAPSHOT'
  constructor(code: 'ERR_BAD_HISTOGRAM' | 'ERR_BAD_SNAPSHOT', message: string) {
    super(message)
    this.code = code
  }
}

/** A histogram built with another configuration was handed to a function that merges or records. */
export class HistogramConfigError extends Error {
  override name = 'HistogramConfigError'
  readonly code = 'ERR_HISTOGRAM_CONFIG'
}

/** An SLO specification that does not parse (`--slo ttft=500ms,...`). */
export class SloSpecError extends Error {
  override name = 'SloSpecError'
  readonly code = 'ERR_BAD_SLO'
}
