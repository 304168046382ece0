/**
 * The logging the mesh needs, shaped like pino (`logger.warn({ peer }, 'msg')`) so the agent can
 * pass its pino logger straight in. Library code never prints on its own.
 */
export interface MeshLogger {
  debug(fields: Record<string, unknown>, message: string): void
  info(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
}

export const silentLogger: MeshLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {}
}
