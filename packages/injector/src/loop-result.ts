/** What a load loop did, for the report's achieved-vs-target and dropped counts. */
export interface LoopResult {
  /** Requests whose intended time came (open loop) or that were started (closed loop). */
  scheduled: number
  /** Requests handed to `fire`. */
  fired: number
  /** Requests not sent because the in-flight cap was hit at their intended time. */
  dropped: number
}
