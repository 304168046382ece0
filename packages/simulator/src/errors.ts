/** Bad simulator options (or a request an engine cannot take): a programming or configuration error. */
export class SimulatorConfigError extends Error {
  override name = 'SimulatorConfigError'
  readonly code = 'ERR_BAD_SIM_CONFIG'
}
