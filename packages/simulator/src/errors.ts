/** Bad simulator options (or a request an engine cannot take): a programming or configuration error. */
export class SimulatorConfigError extends Error {
  override name = 'SimulatorConfigError'
  readonly code = 'ERR_BAD_SIM_CONFIG'
}

/** A fault configuration (file, plan section, admin POST or request header) that cannot be used. */
export class FaultConfigError extends Error {
  override name = 'FaultConfigError'
  readonly code = 'ERR_BAD_FAULT_CONFIG'
}
