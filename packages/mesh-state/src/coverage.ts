/** Inclusive range of window indices. */
export interface WindowRange {
  from: number
  to: number
}

export interface PeerCoverage {
  peer_id: string
  /** Whether the caller said the peer is live; null when it did not say. */
  live: boolean | null
  /** Windows from .. until-1 are expected from this peer. */
  from: number
  until: number
  expected: number
  present: number
  missing: WindowRange[]
  missing_count: number
  /** Present windows still open (the peer may still revise them). */
  open: number
  /** Windows held outside from .. until-1 (merged, but not counted against the expectation). */
  beyond: number
}

export interface CoverageOptions {
  /** Peers that should have windows even if none arrived (e.g. every member of every epoch). */
  peers?: readonly string[]
  /** Peers currently live: they are expected up to the run's newest window; others up to their own last one. */
  livePeers?: readonly string[]
  /** Exclusive end of the expected window range: one number for every peer, or per peer. */
  expectedUntil?: number | Readonly<Record<string, number>>
  /** First expected window (default 0), per peer: e.g. a peer that joined in a later epoch. */
  expectedFrom?: Readonly<Record<string, number>>
}

export interface Coverage {
  run_id: string
  peers: PeerCoverage[]
  expected: number
  present: number
  missing: number
  open: number
  complete: boolean
  /** e.g. "merged 997/1000 windows; peer X windows 41-43 missing". */
  text: string
}

const MAX_RANGES_SHOWN = 4

export function describeCoverage(runId: string, peers: PeerCoverage[]): Coverage {
  let expected = 0
  let present = 0
  let open = 0
  for (const p of peers) {
    expected += p.expected
    present += p.present
    open += p.open
  }
  const silent = peers.some((p) => p.expected === 0 && p.present === 0 && p.beyond === 0)
  const complete = present === expected && !silent
  const parts = [`merged ${present}/${expected} windows`]
  if (complete) parts[0] += ` from ${peers.length} peer${peers.length === 1 ? '' : 's'}`
  for (const p of peers) {
    const who = `peer ${p.peer_id}${p.live === false ? ' (dead)' : ''}`
    if (p.expected === 0 && p.present === 0 && p.beyond === 0) {
      parts.push(`${who} sent no windows`)
    } else if (p.missing.length > 0) {
      const shown = p.missing.slice(0, MAX_RANGES_SHOWN).map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`))
      const rest = p.missing.length - shown.length
      const plural = p.missing_count === 1 ? 'window' : 'windows'
      parts.push(`${who} ${plural} ${shown.join(', ')}${rest > 0 ? ` and ${rest} more range${rest === 1 ? '' : 's'}` : ''} missing`)
    }
  }
  if (open > 0) parts.push(`${open} window${open === 1 ? '' : 's'} still open`)
  return {
    run_id: runId,
    peers,
    expected,
    present,
    missing: expected - present,
    open,
    complete,
    text: parts.join('; ')
  }
}
