/** One thing wrong with a log: where (1-based line, 0 for the file as a whole), which field, what. */
export interface LogProblem {
  line: number
  field: string | null
  message: string
}

/**
 * A request log that cannot be used. Parsing collects problems (up to a limit) and then throws
 * once, listing all of them, so a user fixes a file in one pass and a run never starts on a
 * half-read log.
 */
export class LogFormatError extends Error {
  override name = 'LogFormatError'
  readonly code = 'ERR_BAD_LOG'
  /** The log's path (or the source name given to parseWorkloadLog). */
  readonly file: string
  /** Line of the first problem (0 when it concerns the whole file). */
  readonly line: number
  readonly problems: LogProblem[]

  constructor (file: string, problems: LogProblem[], truncated = false) {
    super(formatProblems(file, problems, truncated))
    this.file = file
    this.problems = problems
    this.line = problems.length > 0 ? problems[0].line : 0
  }
}

function where (file: string, p: LogProblem): string {
  const at = p.line > 0 ? `${file}:${p.line}` : file
  return p.field === null ? `${at}: ${p.message}` : `${at}: ${p.field}: ${p.message}`
}

function formatProblems (file: string, problems: LogProblem[], truncated: boolean): string {
  if (problems.length === 1 && !truncated) return where(file, problems[0])
  const head = `${file}: ${problems.length}${truncated ? '+' : ''} problems` + (truncated ? ' (stopped counting)' : '')
  return [head, ...problems.map((p) => '  ' + where(file, p))].join('\n')
}

/** A model file (model.json) that cannot be used; the message gives the file and the JSON path. */
export class ModelFormatError extends Error {
  override name = 'ModelFormatError'
  readonly code = 'ERR_BAD_MODEL'
  readonly file: string
  /** JSON path of the bad value, e.g. "classes[0].input.chosen.sigma" ("" for the whole file). */
  readonly path: string

  constructor (file: string, path: string, message: string) {
    super(path === '' ? `${file}: ${message}` : `${file}: ${path}: ${message}`)
    this.file = file
    this.path = path
  }
}

/** Options to an API function that make no sense (a negative speedup, ...). */
export class WorkloadModelOptionError extends Error {
  override name = 'WorkloadModelOptionError'
  readonly code = 'ERR_BAD_SPEC'
}
