import type { Clock } from '@loadmesh/clock'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { MeshLogger } from './logger.ts'
import { seedPeerId } from './seeds.ts'

/**
 * Keeps the node connected: dials seeds until they answer and again whenever they drop, and dials
 * peers learned from peer exchange so that small meshes become fully connected (every gossip message
 * then reaches every peer in one hop, and no peer is a relay everyone depends on).
 *
 * Everything is driven by `tick()`, which the node calls from a clock timer, so the policy (backoff,
 * tie-breaks, expiry) is testable under a manual clock with a fake `dial`.
 *
 * Policy:
 *  - A target that fails waits `baseMs * 2^(failures-1)` (capped at `maxMs`, scaled by a fixed
 *    per-node factor in [0.75, 1.25) so restarted nodes do not dial in lock-step), forever: seeds in
 *    Kubernetes may come up minutes after us.
 *  - A seed that turns out to be ourselves is dropped when its address is an IP or carries our peer
 *    id; a DNS seed is only backed off, because a headless-service name can later resolve to others.
 *  - Two peers that learn of each other at the same time would dial each other twice; the one with
 *    the smaller peer id dials at once, the other only if still unconnected `graceMs` after it
 *    learned of the peer or, for a peer it was connected to, after the connection dropped (both
 *    notice a drop at once: without this both would redial, and the pair would hold two connections).
 *  - A seed and a discovered peer can be the same node: a peer whose address is a seed's that is
 *    being dialled is left to that dial, and a seed whose address a connected peer announced is
 *    taken to be that peer (not dialled again by address). A duplicate connection costs its
 *    handshakes (then little: docs/architecture.md has the 16-agent measurements).
 *  - Peers not heard of for `peerTtlMs` are forgotten (a dead peer stops being announced).
 *  - No discovered peer is dialled while `maxPeers` connections are open.
 */
export interface PeerDialerOptions {
  clock: Clock
  selfPeerId: string
  /** Dials the addresses (all of one target) and resolves with the remote peer id. */
  dial(addrs: Multiaddr[]): Promise<string>
  /** Peer ids we currently have a connection to. */
  connectedPeers(): ReadonlySet<string>
  logger: MeshLogger
  baseMs: number
  maxMs: number
  maxPeers: number
  peerTtlMs: number
  graceMs: number
  maxParallelDials?: number
}

export interface PeerDialerStats {
  knownPeers: number
  dialAttempts: number
  dialFailures: number
}

interface Target {
  kind: 'seed' | 'peer'
  key: string
  addrs: Multiaddr[]
  /** Known from a /p2p/ suffix, from discovery, or learned when a seed dial succeeded. */
  peerId: string | undefined
  failures: number
  nextAt: number
  inFlight: boolean
  /** Seed proven to be this very node (and never anything else). */
  isSelf: boolean
  lastSeen: number
  /** The larger peer id's grace runs from here: when it learned of the peer, or saw its connection drop. */
  waitFrom: number
  wasConnected: boolean
  /** A seed's address without /p2p/, to match it with discovered peers. */
  hostKey: string
}

export class PeerDialer {
  private readonly o: PeerDialerOptions
  private readonly seeds: Target[] = []
  private readonly peers = new Map<string, Target>()
  private inFlight = 0
  private stopped = false
  private readonly stat = { dialAttempts: 0, dialFailures: 0 }

  constructor(options: PeerDialerOptions) {
    this.o = options
  }

  addSeed(addr: Multiaddr): void {
    const peerId = seedPeerId(addr)
    const t = this.target('seed', addr.toString(), [addr], peerId)
    t.isSelf = peerId === this.o.selfPeerId
    if (t.isSelf) this.o.logger.debug({ seed: t.key }, 'mesh: skipping seed that is this node')
    this.seeds.push(t)
  }

  /** Records that `peerId` was announced reachable at `addrs` (each ending in /p2p/<peerId>). */
  learn(peerId: string, addrs: Multiaddr[]): void {
    if (peerId === this.o.selfPeerId || addrs.length === 0) return
    const now = this.o.clock.now()
    const known = this.peers.get(peerId)
    if (known === undefined) {
      this.peers.set(peerId, this.target('peer', peerId, addrs, peerId))
      return
    }
    known.lastSeen = now
    known.addrs = addrs
  }

  /** Starts every dial that is due. Dials run in the background; their outcome is seen next tick. */
  tick(): void {
    if (this.stopped) return
    const now = this.o.clock.now()
    const connected = this.o.connectedPeers()
    for (const [id, t] of this.peers) {
      if (!t.inFlight && !connected.has(id) && now - t.lastSeen > this.o.peerTtlMs) this.peers.delete(id)
    }
    for (const t of this.peers.values()) {
      const isConnected = connected.has(t.key)
      if (t.wasConnected && !isConnected) t.waitFrom = now
      t.wasConnected = isConnected
    }
    const full = connected.size >= this.o.maxPeers
    const seedsInFlight = new Set<string>()
    for (const t of this.seeds) {
      if (t.isSelf) continue
      if (t.peerId === undefined) t.peerId = this.connectedPeerAt(t.hostKey, connected)
      if (t.inFlight) seedsInFlight.add(t.hostKey)
      if (t.inFlight || now < t.nextAt) continue
      if (t.peerId !== undefined && connected.has(t.peerId)) continue
      if (full) continue
      this.start(t)
      if (t.inFlight) seedsInFlight.add(t.hostKey)
    }
    if (full) return
    for (const t of this.peers.values()) {
      if (t.inFlight || now < t.nextAt || connected.has(t.key)) continue
      if (this.o.selfPeerId > t.key && now - t.waitFrom < this.o.graceMs) continue
      if (seedsInFlight.size > 0 && t.addrs.some((a) => seedsInFlight.has(withoutPeerId(a)))) continue
      this.start(t)
    }
  }

  /** Peers learned from peer exchange and not yet forgotten (connected or not). */
  knownPeerIds(): IterableIterator<string> {
    return this.peers.keys()
  }

  stats(): PeerDialerStats {
    return { knownPeers: this.peers.size, ...this.stat }
  }

  stop(): void {
    this.stopped = true
  }

  private target(kind: 'seed' | 'peer', key: string, addrs: Multiaddr[], peerId: string | undefined): Target {
    const now = this.o.clock.now()
    return { kind, key, addrs, peerId, failures: 0, nextAt: now, inFlight: false, isSelf: false, lastSeen: now, waitFrom: now, wasConnected: false, hostKey: hostKey(addrs) }
  }

  /** A connected discovered peer announced at `host` (a seed's address), if any. */
  private connectedPeerAt(host: string, connected: ReadonlySet<string>): string | undefined {
    for (const p of this.peers.values()) {
      if (connected.has(p.key) && p.addrs.some((a) => withoutPeerId(a) === host)) return p.key
    }
    return undefined
  }

  private start(t: Target): void {
    if (this.inFlight >= (this.o.maxParallelDials ?? 8)) return
    t.inFlight = true
    this.inFlight++
    this.stat.dialAttempts++
    this.o.dial(t.addrs).then(
      (remote) => {
        t.failures = 0
        t.nextAt = this.o.clock.now() + this.o.baseMs
        if (t.kind === 'seed') t.peerId = remote
        this.o.logger.debug({ target: t.key, peer: remote }, 'mesh: connected')
      },
      (err: unknown) => {
        if (this.stopped) return
        this.stat.dialFailures++
        t.failures++
        if (t.kind === 'seed' && isSelfDial(err) && !isDnsSeed(t.addrs[0])) {
          t.isSelf = true
          this.o.logger.debug({ seed: t.key }, 'mesh: seed is this node; no longer dialling it')
          return
        }
        const delay = Math.min(this.o.baseMs * 2 ** (t.failures - 1), this.o.maxMs) * this.spread(t.key)
        t.nextAt = this.o.clock.now() + delay
        // A peer's failures are routine (it left); a seed's are what an operator needs to see.
        const log = t.kind === 'seed' && t.failures <= 3 ? this.o.logger.warn : this.o.logger.debug
        log.call(this.o.logger, { target: t.key, failures: t.failures, retryInMs: Math.round(delay), error: (err as Error)?.message }, 'mesh: dial failed')
      }
    ).finally(() => {
      t.inFlight = false
      this.inFlight--
    })
  }

  /** A fixed factor in [0.75, 1.25) per (node, target), so nodes restarted together spread out. */
  private spread(key: string): number {
    let h = 2166136261
    for (const ch of this.o.selfPeerId + key) h = Math.imul(h ^ ch.charCodeAt(0), 16777619)
    return 0.75 + ((h >>> 0) / 2 ** 32) * 0.5
  }
}

const P2P_CODE = 421

function withoutPeerId(a: Multiaddr): string {
  return (a.getComponents().some((c) => c.code === P2P_CODE) ? a.decapsulateCode(P2P_CODE) : a).toString()
}

function hostKey(addrs: Multiaddr[]): string {
  return addrs.length === 0 ? '' : withoutPeerId(addrs[0])
}

function isSelfDial(err: unknown): boolean {
  const errors = err instanceof AggregateError ? err.errors : [err]
  return errors.length > 0 && errors.every((e) => /dial(ed)? self/i.test(String((e as Error)?.message)))
}

function isDnsSeed(addr: Multiaddr | undefined): boolean {
  const head = addr?.getComponents()[0]?.name
  return head === 'dns4' || head === 'dns6' || head === 'dns' || head === 'dnsaddr'
}
