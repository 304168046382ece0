/** A scheduler was given options it cannot run, or its gap generator broke mid-run. */
export class ScheduleError extends Error {
  override name = 'ScheduleError'
  readonly code = 'ERR_BAD_SCHEDULE'
}
