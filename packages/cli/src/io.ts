/** The process surface the commands use, injected so tests can run commands in-process. */
export interface Io {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  env: Record<string, string | undefined>
  onInterrupt(fn: () => void): void
  offInterrupt(fn: () => void): void
  /** Ends the process now (a second Ctrl-C); only the CLI's top level may do this. */
  exitNow(code: number): void
}

export function processIo (): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onInterrupt: (fn) => { process.on('SIGINT', fn); process.on('SIGTERM', fn) },
    offInterrupt: (fn) => { process.off('SIGINT', fn); process.off('SIGTERM', fn) },
    exitNow: (code) => { process.exit(code) }
  }
}
