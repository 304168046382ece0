/**
 * A simulator profile (a preset or a user's JSON file) that cannot be used. The message names the
 * file (or preset) and the field, because profiles are written by hand.
 */
export class ProfileError extends Error {
  override name = 'ProfileError'
  readonly code = 'ERR_BAD_PROFILE'
}

/** Bad engine options or a fault the engine cannot play: a programming or configuration error. */
export class EngineConfigError extends Error {
  override name = 'EngineConfigError'
  readonly code = 'ERR_BAD_ENGINE_CONFIG'
}

/** Bad virtual-run options (workload, duration, faults). */
export class VirtualRunError extends Error {
  override name = 'VirtualRunError'
  readonly code = 'ERR_BAD_VIRTUAL_RUN'
}
