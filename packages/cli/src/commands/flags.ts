import { parseArgs } from 'node:util'
import { UsageError } from '../exit-codes.ts'
import { toParseArgsOptions } from '../options.ts'
import type { FlagDoc } from '../options.ts'
import { readPlanFile } from '../plan-file.ts'
import type { FlagValues } from '../plan-file.ts'

/** Parses argv against `flags`; a plan file (--plan) fills in what the command line leaves out. */
export async function parseFlags (argv: string[], flags: FlagDoc[]): Promise<FlagValues> {
  let values: FlagValues
  try {
    values = parseArgs({ args: argv, options: toParseArgsOptions(flags), allowPositionals: false, allowNegative: true, strict: true }).values as FlagValues
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^Unknown option/, 'unknown flag'), 'see --help for the flags')
  }
  if (typeof values.plan === 'string') {
    const fromPlan = await readPlanFile(values.plan, flags)
    // --rate and --concurrency pick the mode: the command line's choice replaces the plan's.
    if (values.rate !== undefined) delete fromPlan.concurrency
    if (values.concurrency !== undefined) delete fromPlan.rate
    values = { ...fromPlan, ...Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) }
  }
  return values
}
