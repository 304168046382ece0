import type { Clock, Timer } from '@loadmesh/clock'

/**
 * The single clock timer behind a deadline heap. Both engines keep every deadline in one heap and
 * arm one timer for the earliest: an earlier timer fires anyway and re-arms, so only an earlier
 * deadline needs a new one; and nothing re-arms from inside the callback, which drains every due
 * item first and arms once at the end.
 */
export interface HeapAlarm {
  /** Arms the timer for the next deadline (`next()`), or cancels it when nothing is due. No-op while firing. */
  arm(): void
  /** Forgets the armed timer (a stall moved the deadline later, or the engine stops); arm() starts afresh. */
  reset(): void
  /** True while `fire` runs: work triggered from inside it is picked up by the re-arm at its end. */
  readonly firing: boolean
}

/**
 * @param next the absolute clock time (ms) of the earliest deadline, or undefined when there is none
 * @param fire called when the timer fires, with the deadline it was armed for (the timer stands for
 *   it even if setTimeout fired a fraction of a millisecond early)
 */
export function createHeapAlarm(clock: Pick<Clock, 'now' | 'setTimer'>, next: () => number | undefined, fire: (armedAt: number) => void): HeapAlarm {
  let timer: Timer | undefined
  let armedAt = Number.POSITIVE_INFINITY
  let firing = false

  const reset = (): void => {
    timer?.cancel()
    timer = undefined
    armedAt = Number.POSITIVE_INFINITY
  }

  const arm = (): void => {
    if (firing) return
    const at = next()
    if (at === undefined) {
      reset()
      return
    }
    if (timer !== undefined && armedAt <= at) return
    timer?.cancel()
    armedAt = at
    timer = clock.setTimer(onTimer, at - clock.now())
  }

  const onTimer = (): void => {
    timer = undefined
    const armed = armedAt
    armedAt = Number.POSITIVE_INFINITY
    firing = true
    try {
      fire(armed)
    } finally {
      firing = false
      arm()
    }
  }

  return {
    arm,
    reset,
    get firing() { return firing }
  }
}
