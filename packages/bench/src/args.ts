import { BenchError } from './bench-error.ts'

export const SUITE_NAMES = ['req-per-s', 'sse', 'schedule-lag', 'sim-engine', 'simulator-scale', 'mesh', 'replay-lag'] as const
export type SuiteName = (typeof SUITE_NAMES)[number]

export interface BenchArgs {
  quick: boolean
  /** Suites to run, in the canonical order. */
  suites: SuiteName[]
  /** True when `--only` narrowed the run. */
  partial: boolean
  /** Write the loadmesh workers' CPU profiles (node --cpu-prof) under results/profiles. */
  profile: boolean
  help: boolean
}

export const USAGE = `Usage: pnpm bench [-- options]
  --quick          short smoke run (1 s warm-up, 3 s per measurement); writes results/quick.json
  --only <suite>   run only these suites (comma-separated: ${SUITE_NAMES.join(', ')});
                   writes results/partial.json
  --profile        write CPU profiles of the Node client processes to results/profiles/
                   (profiling slows the clients: such a run writes results/partial.json)
  --help           this text
A full run (no --quick, no --only) writes results/latest.json and regenerates docs/benchmarks.md.`

/** Parses the bench's own flags; a leading `--` (as `pnpm bench -- --quick` passes it) is ignored. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const out: BenchArgs = { quick: false, suites: [...SUITE_NAMES], partial: false, profile: false, help: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') continue
    if (a === '--quick') out.quick = true
    else if (a === '--profile') out.profile = true
    else if (a === '--help' || a === '-h') out.help = true
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length)
      if (value === undefined || value === '') throw new BenchError('ERR_BAD_ARGS', `--only: needs a suite name (${SUITE_NAMES.join(', ')})`)
      const wanted = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
      for (const w of wanted) {
        if (!(SUITE_NAMES as readonly string[]).includes(w)) {
          throw new BenchError('ERR_BAD_ARGS', `--only: unknown suite "${w}" (valid: ${SUITE_NAMES.join(', ')})`)
        }
      }
      out.suites = SUITE_NAMES.filter((s) => wanted.includes(s))
      out.partial = true
    } else {
      throw new BenchError('ERR_BAD_ARGS', `unknown argument "${a}"\n${USAGE}`)
    }
  }
  return out
}
