/** The injector was given options or a request it cannot work with; the message names which. */
export class InjectorConfigError extends Error {
  override name = 'InjectorConfigError'
  readonly code = 'ERR_BAD_INJECTOR_CONFIG'
}
