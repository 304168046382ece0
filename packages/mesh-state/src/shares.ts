import { compareIds } from './canonical.ts'
import { MeshArgumentError } from './errors.ts'
import { exactWeights, fractionText } from './exact-weights.ts'
import type { WeightedMember } from './exact-weights.ts'

/**
 * One agent's part of the load: the segment [from, to) of [0, 1) (k6's execution segments), of
 * length proportional to its weight. Segments follow peer-id order and tile [0, 1): the first starts
 * at 0, each ends where the next starts, the last ends at 1, in the floats as in the exact fractions.
 */
export interface Share {
  peer_id: string
  weight: number
  from: number
  to: number
  /** weight / total weight (more precise than to − from). */
  share: number
  /** The exact segment as fractions in lowest terms, e.g. { from: "1/3", to: "2/3" }. */
  exact: { from: string; to: string; share: string }
}

/**
 * Shares of the members, sorted by peer id (code-unit order). Pure and exact: every peer computes
 * the same segments from the same member list, whatever order it was given in. An empty list gives
 * no shares. Throws MembersError for duplicate peer ids or weights that are not finite and > 0.
 */
export function computeShares(members: readonly WeightedMember[]): Share[] {
  const w = exactWeights(members, 'computeShares')
  const out: Share[] = []
  const totalF = Number(w.total)
  let prefix = 0n
  for (let i = 0; i < w.peers.length; i++) {
    const next = prefix + w.ints[i]
    out.push({
      peer_id: w.peers[i],
      weight: w.weights[i],
      from: i === 0 ? 0 : Number(prefix) / totalF,
      to: 1, // set below from the next segment's start, so the floats tile too
      share: Number(w.ints[i]) / totalF,
      exact: { from: fractionText(prefix, w.total), to: fractionText(next, w.total), share: fractionText(w.ints[i], w.total) }
    })
    prefix = next
  }
  for (let i = 0; i + 1 < out.length; i++) out[i].to = out[i + 1].from
  return out
}

/** Requests per second for one agent: its share of the mesh-wide rate (independent Poisson streams add up exactly). */
export function openLoopRate(rate: number, share: Share | number): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
    throw new MeshArgumentError(`openLoopRate: rate must be a finite number >= 0, got ${rate}`)
  }
  const s = typeof share === 'number' ? share : share.share
  if (!Number.isFinite(s) || s < 0 || s > 1) throw new MeshArgumentError(`openLoopRate: share must be in [0, 1], got ${s}`)
  return rate * s
}

export interface ConcurrencyShare {
  peer_id: string
  concurrency: number
}

/**
 * Splits C requests in flight by weight with the largest-remainder method, in exact integer
 * arithmetic: everyone gets floor(C × share); the units left over go to the largest remainders,
 * ties to the lower peer id. The result is sorted by peer id and sums to exactly C.
 */
export function splitConcurrency(concurrency: number, shares: readonly WeightedMember[]): ConcurrencyShare[] {
  if (!Number.isSafeInteger(concurrency) || concurrency < 0) {
    throw new MeshArgumentError(`splitConcurrency: concurrency must be a non-negative integer, got ${concurrency}`)
  }
  if (shares.length === 0) {
    if (concurrency > 0) throw new MeshArgumentError(`splitConcurrency: ${concurrency} to split but no members`)
    return []
  }
  const w = exactWeights(shares, 'splitConcurrency')
  const c = BigInt(concurrency)
  const base = w.ints.map((x) => (c * x) / w.total)
  const rem = w.ints.map((x) => (c * x) % w.total)
  let left = concurrency - Number(base.reduce((a, b) => a + b, 0n))
  const order = w.peers.map((_, i) => i)
  order.sort((a, b) => (rem[a] !== rem[b] ? (rem[a] > rem[b] ? -1 : 1) : compareIds(w.peers[a], w.peers[b])))
  const extra = new Array<number>(w.peers.length).fill(0)
  for (const i of order) {
    if (left === 0) break
    extra[i] = 1
    left--
  }
  return w.peers.map((peer_id, i) => ({ peer_id, concurrency: Number(base[i]) + extra[i] }))
}

/**
 * The label an agent splits the plan's seeded Rng with for its arrivals in one epoch:
 * `createRng(plan.seed).split(arrivalSeedLabel(peerId, epoch))`. Seeding by (plan seed, peer id,
 * epoch) makes each agent's arrival stream independent of the others' (so their sum is a Poisson
 * process of the mesh rate), reproducible from the report, and fresh at every rebalance, which
 * starts new processes at new rates. The epoch is the last component, so distinct (peer, epoch)
 * pairs give distinct labels.
 */
export function arrivalSeedLabel(peerId: string, epoch: number): string {
  if (typeof peerId !== 'string' || peerId.length === 0) throw new MeshArgumentError('arrivalSeedLabel: empty peer id')
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new MeshArgumentError(`arrivalSeedLabel: epoch must be a non-negative integer, got ${epoch}`)
  return `arrivals:${peerId}:epoch-${epoch}`
}
