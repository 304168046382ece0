import type { Clock, Timer } from '@loadmesh/clock'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { MeshLogger } from './logger.ts'
import type { PeerDialer } from './peer-dialer.ts'
import { decodePeerAnnounce, encodePeerAnnounce, MAX_ANNOUNCE_PEERS, MAX_PEER_ADDRS } from './peer-announce.ts'
import type { PeerEntry } from './peer-announce.ts'

/**
 * Peer exchange: how a node that knows one seed comes to know, and dial, every peer of a small mesh
 * (so that no peer is a relay everyone depends on, and a publish reaches everyone in one hop).
 *
 *  1. Pull on connect: on every new connection, ask the peer for its peer list (itself and its
 *     neighbours with their listen addresses). A joiner learns the whole mesh in one round trip.
 *  2. Gossip: every node publishes its own addresses every `announceIntervalMs` (at a per-node
 *     phase, so nodes started together do not announce in the same instant). Only its own: every
 *     peer hears these, so neighbour lists here would cost N^2 bytes for news most already have.
 *     While the node's connections stay the same the period doubles, up to `maxAnnounceIntervalMs`,
 *     and any connect or disconnect brings it back: announcements are relayed, so each one costs
 *     every peer about D + 1 copies, and a mesh that stopped changing has nothing to learn from
 *     them (measured: at 16 idle agents they were as many messages as the heartbeats). A peer that
 *     lost its connection to us announces at the base period again, so it is not forgotten, and
 *     so does a node that knows of any peer it is not connected to (the mesh is not full).
 *  3. Nudge: the dialer leaves a peer with a smaller id to dial us; when we learn of such a peer
 *     that may not know us (it pulled its lists before we joined), we announce ourselves soon
 *     instead of at the next period (at most once per second).
 *
 * Learned peers go to the PeerDialer, which decides when to dial.
 */
export interface PeerExchangeOptions {
  clock: Clock
  logger: MeshLogger
  selfPeerId: string
  dialer: PeerDialer
  connected: ReadonlySet<string>
  announceIntervalMs: number
  /** The period's cap while connections do not change (default 8 x announceIntervalMs). */
  maxAnnounceIntervalMs?: number
  /** This node's listen addresses (with or without /p2p/). */
  ownAddrs(): Multiaddr[]
  /** A connected peer's listen addresses as identify reported them; throws or [] when unknown. */
  peerAddrs(peerId: string): Promise<Multiaddr[]>
  /** Gossips an announcement on the mesh's peer-exchange topic. */
  publish(announcement: Uint8Array): Promise<void>
  /** Pulls a peer's list over the peer-list stream protocol. */
  pull(peerId: string): Promise<Uint8Array>
}

export interface PeerExchangeCounters {
  /** Peer lists received, pulled or gossiped. */
  announcesIn: number
  announcesOut: number
  /** Peer lists that did not decode. */
  droppedInvalid: number
}

const MIN_NUDGE_GAP_MS = 1000
const NUDGE_DELAY_MS = 50

export class PeerExchange {
  readonly counters: PeerExchangeCounters = { announcesIn: 0, announcesOut: 0, droppedInvalid: 0 }
  private readonly o: PeerExchangeOptions
  private nextPeriodicAt = Number.POSITIVE_INFINITY
  private interval: number
  private readonly maxInterval: number
  private lastAnnounceAt = Number.NEGATIVE_INFINITY
  private timer: Timer | undefined
  private rotation = 0
  private stopped = false

  constructor(options: PeerExchangeOptions) {
    this.o = options
    this.interval = options.announceIntervalMs
    this.maxInterval = Math.max(options.announceIntervalMs, options.maxAnnounceIntervalMs ?? 8 * options.announceIntervalMs)
  }

  start(): void {
    this.nextPeriodicAt = this.o.clock.now() + this.o.announceIntervalMs * (0.5 + phaseOf(this.o.selfPeerId))
  }

  stop(): void {
    this.stopped = true
    this.timer?.cancel()
  }

  /** Called regularly (the node's maintenance tick): sends the periodic announcement when due. */
  tick(): void {
    const now = this.o.clock.now()
    if (now < this.nextPeriodicAt) return
    // A known peer we have no connection to (maxPeers reached, or it cannot reach us) knows us only
    // from these announcements, and forgets us after three base periods (the dialer's peerTtlMs).
    // A doubled period outlasts that: the two would forget each other over and over, and stop
    // relaying their heartbeats to each other. The period backs off only once the mesh is full.
    if (this.knowsUnconnected()) this.interval = this.o.announceIntervalMs
    this.nextPeriodicAt = now + this.interval
    this.interval = Math.min(this.maxInterval, this.interval * 2)
    if (this.o.connected.size > 0) this.schedule(0)
  }

  private knowsUnconnected(): boolean {
    for (const id of this.o.dialer.knownPeerIds()) if (!this.o.connected.has(id)) return true
    return false
  }

  /** A connection came or went: announce at the base period again. */
  private changed(): void {
    this.interval = this.o.announceIntervalMs
    // At the node's phase, as at start: nodes that saw the same join do not announce together.
    this.nextPeriodicAt = Math.min(this.nextPeriodicAt, this.o.clock.now() + this.interval * (0.5 + phaseOf(this.o.selfPeerId)))
  }

  onDisconnect(): void {
    this.changed()
  }

  onConnect(peer: string): void {
    this.changed()
    this.o.pull(peer).then(
      (list) => { this.learn(peer, list) },
      (err: unknown) => {
        // Not a node of this mesh, or it left again: nothing to learn from it.
        this.o.logger.debug({ peer, error: (err as Error)?.message }, 'mesh: peer list not available')
      }
    )
  }

  /** A peer list from `from` (pulled from it, or its gossiped announcement). */
  learn(from: string, data: Uint8Array): void {
    if (this.stopped) return
    let peers: PeerEntry[]
    try {
      peers = decodePeerAnnounce(data).peers
    } catch (err) {
      this.counters.droppedInvalid++
      this.o.logger.debug({ from, error: (err as Error).message }, 'mesh: malformed peer list dropped')
      return
    }
    this.counters.announcesIn++
    const self = this.o.selfPeerId
    for (const p of peers) {
      if (p.peerId === self || !isPeerId(p.peerId)) continue
      const addrs = p.addrs.flatMap((bytes) => {
        try {
          const a = multiaddr(bytes)
          return isDialableTcp(a) ? [a.encapsulate(`/p2p/${p.peerId}`)] : []
        } catch {
          return [] // one bad address in an otherwise good entry is skipped
        }
      })
      this.o.dialer.learn(p.peerId, addrs)
      if (p.peerId < self && addrs.length > 0 && !this.o.connected.has(p.peerId)) {
        this.schedule(Math.max(NUDGE_DELAY_MS, this.lastAnnounceAt + MIN_NUDGE_GAP_MS - this.o.clock.now()))
      }
    }
    // Dial what we just learned now rather than at the next tick: joins converge in a round trip.
    this.o.dialer.tick()
  }

  /** This node and its neighbours with their listen addresses: the answer to a pull. */
  async peerList(): Promise<Uint8Array> {
    const entries: PeerEntry[] = [{ peerId: this.o.selfPeerId, addrs: announceable(this.o.ownAddrs()) }]
    // Above the per-message cap, rotate so that every neighbour is listed in turn.
    const neighbours = [...this.o.connected].sort()
    const room = MAX_ANNOUNCE_PEERS - 1
    const start = neighbours.length > room ? this.rotation++ % neighbours.length : 0
    for (let i = 0; i < Math.min(room, neighbours.length); i++) {
      const id = neighbours[(start + i) % neighbours.length]
      try {
        const addrs = announceable(await this.o.peerAddrs(id))
        if (addrs.length > 0) entries.push({ peerId: id, addrs })
      } catch {
        // not identified yet: listed in a later answer
      }
    }
    return encodePeerAnnounce(entries)
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined || this.stopped) return
    this.timer = this.o.clock.setTimer(() => {
      this.timer = undefined
      this.announce().catch((err: unknown) => {
        this.o.logger.debug({ error: (err as Error)?.message }, 'mesh: peer announcement failed')
      })
    }, delayMs)
  }

  private async announce(): Promise<void> {
    if (this.stopped) return
    this.lastAnnounceAt = this.o.clock.now()
    await this.o.publish(encodePeerAnnounce([{ peerId: this.o.selfPeerId, addrs: announceable(this.o.ownAddrs()) }]))
    this.counters.announcesOut++
  }
}

/** A number in [0, 1) fixed by the peer id. */
function phaseOf(peerId: string): number {
  let h = 2166136261
  for (let i = 0; i < peerId.length; i++) h = Math.imul(h ^ peerId.charCodeAt(i), 16777619)
  return (h >>> 0) / 2 ** 32
}

function isPeerId(s: string): boolean {
  try {
    peerIdFromString(s)
    return true
  } catch {
    return false
  }
}

const P2P_CODE = 421

function isDialableTcp(a: Multiaddr): boolean {
  const parts = a.getComponents()
  const head = parts[0]
  if (head === undefined || parts[1]?.name !== 'tcp') return false
  if (head.name === 'ip4') return head.value !== '0.0.0.0'
  if (head.name === 'ip6') return head.value !== '::'
  return head.name === 'dns4' || head.name === 'dns6' || head.name === 'dns'
}

/**
 * TCP addresses worth telling others, without /p2p/, as bytes. Loopback addresses are dropped when
 * there are others: another host dialling "127.0.0.1" reaches itself, not us.
 */
export function announceable(addrs: Multiaddr[]): Uint8Array[] {
  const tcp = addrs
    .map((a) => (a.getComponents().some((c) => c.code === P2P_CODE) ? a.decapsulateCode(P2P_CODE) : a))
    .filter(isDialableTcp)
  const isLoopback = (a: Multiaddr): boolean => {
    const v = a.getComponents()[0]?.value ?? ''
    return v.startsWith('127.') || v === '::1' || v === 'localhost'
  }
  const external = tcp.filter((a) => !isLoopback(a))
  const chosen = external.length > 0 ? external : tcp
  const unique = new Map(chosen.map((a) => [a.toString(), a]))
  return [...unique.values()].slice(0, MAX_PEER_ADDRS).map((a) => a.bytes)
}
