import { rm } from 'node:fs/promises'
import { UsageError } from '../exit-codes.ts'
import { formatFlags } from '../options.ts'
import type { FlagDoc } from '../options.ts'
import type { Io } from '../io.ts'
import { parseFlags } from './flags.ts'

const FLAGS: FlagDoc[] = [
  { name: 'out', type: 'string', arg: 'FILE', help: 'where to write the swarm key (mode 0600)' },
  { name: 'force', type: 'boolean', help: 'replace an existing file (a replaced key splits a running mesh)' },
  { name: 'help', type: 'boolean', short: 'h', help: 'show help' }
]

export const KEYGEN_HELP = `loadmesh keygen --out FILE [--force]

Writes a new swarm key: every peer of a private mesh needs the same file (--swarm-key).

${formatFlags(FLAGS)}`

export async function keygenCommand (argv: string[], io: Io): Promise<number> {
  const v = await parseFlags(argv, FLAGS)
  if (v.help === true) { io.stdout.write(KEYGEN_HELP + '\n'); return 0 }
  const out = v.out as string | undefined
  if (out === undefined) throw new UsageError('--out FILE is required', 'e.g. loadmesh keygen --out swarm.key')
  const mesh = await import('@loadmesh/mesh')
  if (v.force === true) await rm(out, { force: true })
  try {
    await mesh.writeSwarmKey(out, mesh.generateSwarmKey())
  } catch (err) {
    if ((err as Error).message.includes('already exists')) throw new UsageError((err as Error).message, 'pass --force to replace it')
    throw err
  }
  io.stderr.write(`swarm key written to ${out}\n`)
  return 0
}
