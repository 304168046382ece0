import { formatDuration } from '@loadmesh/clock'
import type { Progress } from '@loadmesh/agent'

export interface LivePanel {
  update(p: Progress): void
  /** Removes the panel (TTY) so the summary prints cleanly below. */
  close(): void
}

/**
 * The live view goes to stderr so stdout stays clean for the summary or `--json`. On a terminal the
 * panel redraws in place once a second; elsewhere (CI logs) it prints one line every 5 s.
 */
export function createLivePanel (stream: NodeJS.WriteStream, opts: { quiet: boolean }): LivePanel {
  let drawn = 0
  let nextLine = 5000
  let drainingShown = false
  const tty = stream.isTTY === true
  return {
    update (p) {
      if (opts.quiet) return
      const lines = renderPanel(p)
      if (tty) {
        const up = drawn > 0 ? `\x1b[${drawn}A` : ''
        stream.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(''))
        drawn = lines.length
      } else {
        // Logs get a line every 5 s of sending, and one when sending ends and responses drain.
        const draining = p.elapsed_ms >= p.duration_ms
        if (draining ? drainingShown : p.elapsed_ms < nextLine) return
        if (draining) drainingShown = true
        while (nextLine <= p.elapsed_ms) nextLine += 5000
        stream.write(`${lines[0]} | ${lines[1].trim()} | ${lines[2].trim()}\n`)
      }
    },
    close () {
      if (tty && drawn > 0) stream.write(`\x1b[${drawn}A\x1b[J`)
      drawn = 0
    }
  }
}

export function renderPanel (p: Progress): string[] {
  const l = p.live
  const ms = (v: number | null): string => v === null ? '-' : formatDuration(v)
  const pct = Math.min(100, (100 * p.elapsed_ms) / p.duration_ms)
  const bar = '#'.repeat(Math.round(pct / 5)).padEnd(20, '.')
  return [
    `[${bar}] ${formatDuration(Math.min(p.elapsed_ms, p.duration_ms))} / ${formatDuration(p.duration_ms)}  run ${p.run_id.slice(0, 8)}`,
    `  sent ${l.total.sent}  in flight ${p.in_flight}  completed ${l.total.completed}  errors ${l.total.failed}  dropped ${l.total.dropped}  ${l.requests_per_s.toFixed(1)} req/s`,
    `  ttft p50 ${ms(l.ttft_p50_ms)} p99 ${ms(l.ttft_p99_ms)}   itl p50 ${ms(l.itl_p50_ms)} p99 ${ms(l.itl_p99_ms)}   (last ${Math.round(l.span_ms / 1000)}s)   loop delay p99 ${ms(p.health.event_loop_delay_ms.p99)}`
  ]
}
