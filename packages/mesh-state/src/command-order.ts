import type { Command } from '@loadmesh/protocol'
import { canonicalJson, compareIds } from './canonical.ts'

/** Who issued a command and where it stands in the total order; what the report shows. */
export interface CommandRef {
  id: string
  lamport: number
  issuer: string
}

export function commandRef(c: Command): CommandRef {
  return { id: c.id, lamport: c.lamport, issuer: c.issuer }
}

/**
 * The total order of commands: Lamport stamp, then id (code-unit order), then content. Content only
 * matters for two commands with the same stamp and id, which an honest issuer never sends; ordering
 * them anyway keeps every peer's choice the same.
 */
export function compareCommands(a: Command, b: Command): number {
  if (a.lamport !== b.lamport) return a.lamport < b.lamport ? -1 : 1
  const byId = compareIds(a.id, b.id)
  if (byId !== 0) return byId
  return compareIds(canonicalJson(a), canonicalJson(b))
}
