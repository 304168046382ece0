/** The benchmark could not run as asked: a bad flag, a target that did not start, a worker that failed. */
export class BenchError extends Error {
  override name = 'BenchError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}
