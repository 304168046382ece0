/**
 * A workload specification (length or duration spec, arrival process, prompt size) that cannot be
 * used. The message always names where the input came from (a flag, a config key) and the bad part,
 * because these specs are typed by people on command lines and in config files.
 */
export class WorkloadSpecError extends Error {
  override name = 'WorkloadSpecError'
  readonly code = 'ERR_BAD_SPEC'
}
