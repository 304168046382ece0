import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub, GossipsubMessage } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Clock, Timer } from '@loadmesh/clock'
import type { MeshPrivateKey } from './identity.ts'
import type { MeshLogger } from './logger.ts'
import { silentLogger } from './logger.ts'
import { MeshConfigError, MeshStateError, MessageTooLargeError, RemoteError, RequestFailedError, RequestTimeoutError } from './errors.ts'
import { swarmKeyBytes } from './swarm-key.ts'
import { fullTopic, peerExchangeTopic, peerListProtocol, validateMeshName, validateProtocol, validateTopic } from './topics.ts'
import { createGossipsub, resolveGossipTuning } from './gossip-options.ts'
import type { GossipTuning } from './gossip-options.ts'
import { PeerDialer } from './peer-dialer.ts'
import { MAX_ANNOUNCE_BYTES } from './peer-announce.ts'
import { PeerExchange } from './peer-exchange.ts'
import { createStreamHandler, decodeResponse, readFrame, sendFrame } from './request-response.ts'
import { answerClock, ClockSyncError, clockProtocol, PROBE_WINDOW_MS, probeClock, sharedPreciseWall } from './clock-sync.ts'
import type { ClockProbe, PreciseWall } from './clock-sync.ts'
import type { StreamCounters, StreamRequestHandler } from './request-response.ts'
import { publicKeyBytes, signBytes } from './signing.ts'
import { DIRECT_TO_ALL, frameGossip, gossipFlag, gossipPayload, RELAY } from './gossip-frame.ts'
import { openGossipStreamsInParallel } from './gossip-stream-opener.ts'
import type { GossipFlag } from './gossip-frame.ts'

export interface MeshNodeOptions {
  /** Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/4001` (port 0 picks a free port). */
  listen: string[]
  /** Addresses to announce instead of the listen addresses (e.g. a pod IP behind 0.0.0.0). */
  announce?: string[]
  /** Where to find the mesh (see `parseSeeds`). Seeds that are this node are skipped. */
  seeds: Multiaddr[]
  /** Swarm key text (see `readSwarmKey`). Omitted: an insecure mesh anyone who can reach it may join. */
  swarmKey?: string
  privateKey: MeshPrivateKey
  /** Topics are `loadmesh/<meshName>/<topic>`: meshes with different names never share traffic. */
  meshName: string
  clock: Clock
  logger?: MeshLogger
  /** First retry delay for seeds and known peers, doubling per failure. Default 1000 ms. */
  redialIntervalMs?: number
  /** Cap on the retry delay. Default 30 000 ms. */
  maxRedialIntervalMs?: number
  /** Inbound gossip messages over this size are dropped and counted; publishing more throws. Default 64 KiB. */
  maxGossipBytes?: number
  /** Do not dial discovered peers beyond this many connections (gossip relays reach the rest). Default 64. */
  maxPeers?: number
  /**
   * Give up a dial (TCP connect plus the swarm-key, noise and yamux handshakes) after this long.
   * A peer with the wrong swarm key typically fails by timeout, not by a clean error. Default 10 000 ms.
   */
  dialTimeoutMs?: number
  /**
   * How often each node gossips its own addresses (peer exchange for joins that raced each other;
   * a peer not heard of for three intervals is no longer redialled). Default 5000 ms.
   */
  announceIntervalMs?: number
  gossip?: Partial<GossipTuning>
  /**
   * Experimental, default off: mark every message this node published straight to every peer it
   * knows of as not to be relayed (see gossip-frame.ts), not only the `periodic` ones. A lost
   * command is not superseded by the next one, and in meshes of up to Dhi + 1 peers gossipsub never
   * repairs a lost direct copy (docs/architecture.md). Off, only periodic messages skip relays.
   */
  directPublish?: boolean
}

export interface StreamHandlerOptions {
  /** Requests over this size are refused before being read. Default 64 KiB. */
  maxRequestBytes?: number
  /** A response over this size is not sent (the requester gets ERR_MESSAGE_TOO_LARGE). Default 16 MiB. */
  maxResponseBytes?: number
  /** Whole exchange (read request, run handler, send response). Default 30 000 ms. */
  timeoutMs?: number
  /** Concurrent inbound streams per connection for this protocol. Default 8. */
  maxInboundStreams?: number
}

export interface RequestOptions {
  /** Dial, send, and receive the whole response within this. Default 30 000 ms. */
  timeoutMs?: number
  /** A response declaring more bytes is refused before its body is read. Default 16 MiB. */
  maxResponseBytes?: number
}

export interface PublishOptions {
  /**
   * The message is periodic state that its next one supersedes within a period (heartbeats): when
   * this node sends it straight to every peer it knows of, receivers deliver it and do not relay it
   * (see gossip-frame.ts). A direct copy lost on the way costs that peer one period, where relaying
   * costs every peer D extra copies of every such message. Default false: relayed as gossipsub does.
   */
  periodic?: boolean
}

export type GossipHandler = (from: string, bytes: Uint8Array) => void

export interface ClockProbeOptions {
  /** Probes on the one stream (1..16). Default 5: the shortest round trip of a few is what counts. */
  probes?: number
  /** Dial, negotiate and all probes within this. Default 5000 ms. */
  timeoutMs?: number
}

export interface MeshStats {
  connectedPeers: number
  /** Peers learned through peer exchange and not yet expired. */
  knownPeers: number
  /** Gossip messages delivered to handlers (after dedup and size check), and their payload bytes. */
  messagesIn: number
  gossipBytesIn: number
  /** Messages published by this node, and their payload bytes (counted once, not per recipient). */
  messagesOut: number
  gossipBytesOut: number
  /** Inbound gossip over `maxGossipBytes`, dropped before any handler saw it (and not forwarded). */
  droppedOversize: number
  /** Inbound gossip without a valid frame flag (see gossip-frame.ts), dropped and not forwarded. */
  droppedUnframed: number
  /**
   * Messages this node published straight to every peer it knows (receivers do not relay them:
   * periodic ones, or all with `directPublish`), and inbound messages it handed to gossipsub to
   * relay (see gossip-frame.ts).
   */
  publishedDirect: number
  relayed: number
  /** Gossip streams to connected peers reopened after gossipsub lost them (see repairGossipStreams). */
  gossipStreamRepairs: number
  /** Peer lists that did not decode. */
  droppedInvalid: number
  /** Exceptions (or rejected promises) from gossip handlers. */
  handlerErrors: number
  /** Peer lists received (pulled from each new connection, or gossiped), and announcements sent. */
  announcesIn: number
  announcesOut: number
  requestsIn: number
  /** Requests this node refused for being over `maxRequestBytes`. */
  requestsRefused: number
  requestHandlerErrors: number
  requestsOut: number
  requestFailures: number
  dialAttempts: number
  dialFailures: number
  /** Clock probe exchanges (clock-sync.ts) answered, made, and failed (ours or malformed ones we were sent). */
  clockSyncsIn: number
  clockSyncsOut: number
  clockSyncFailures: number
}

export interface MeshNode {
  /** Stable for a given private key; known before `start()`. */
  readonly peerId: string
  start(): Promise<void>
  /** Closes every connection and timer. Idempotent; a stopped node cannot be restarted. */
  stop(): Promise<void>
  /** Listen addresses with `/p2p/<peerId>` (empty before start). */
  addresses(): string[]
  connectedPeers(): string[]
  /**
   * Peers we know to be subscribed to `topic` and have a gossip stream to: a message published now
   * is sent to these (and, through relays, maybe to others).
   */
  topicPeers(topic: string): string[]
  /**
   * Resolves once at least `minPeers` peers are known subscribed to `topic`, rejects with
   * RequestTimeoutError after `timeoutMs`. A subscription made elsewhere reaches us one network
   * round trip after the connection is up; publishing before that misses the peer.
   */
  waitForTopicPeers(topic: string, minPeers: number, timeoutMs: number): Promise<void>
  /**
   * Calls `handler` with a peer's id when a message published on `topic` starts reaching it
   * directly: the peer is subscribed and our gossip stream to it is open, whichever came last
   * (so the same peer again after a stream was reopened). Returns the function that removes it.
   */
  onTopicPeer(topic: string, handler: (peerId: string) => void): () => void
  /** Publishes to `loadmesh/<meshName>/<topic>`. Resolves with the number of peers it was sent to directly. */
  publish(topic: string, bytes: Uint8Array, options?: PublishOptions): Promise<number>
  /** Handlers never see this node's own messages. Returns the unsubscribe function. */
  subscribe(topic: string, handler: GossipHandler): () => void
  /** Answers requests on `protocol`. Returns a function that removes the handler. */
  handleStream(protocol: string, handler: StreamRequestHandler, options?: StreamHandlerOptions): () => void
  request(peerId: string, protocol: string, bytes: Uint8Array, options?: RequestOptions): Promise<Uint8Array>
  /**
   * NTP-style probes of `peerId`'s wall clock over a direct stream (see clock-sync.ts): one
   * exchange per probe, in our wall-clock ms and theirs. Rejects on timeout or a malformed reply.
   */
  measureClock(peerId: string, options?: ClockProbeOptions): Promise<ClockProbe[]>
  /** Ed25519 signature over `loadmesh/sig/v1:` + bytes; check with `verifyPeerSignature(peerId, ...)`. */
  sign(bytes: Uint8Array): Promise<Uint8Array>
  /** This node's public key, protobuf-marshalled (for `verifySignature`). */
  publicKey(): Uint8Array
  stats(): MeshStats
}

type Services = { identify: unknown, ping: unknown, pubsub: GossipSub }
type Node = Libp2p<Services>
type ClockStream = Awaited<ReturnType<Node['dialProtocol']>>

const KiB = 1024
const MiB = 1024 * KiB
const DEFAULTS = {
  redialIntervalMs: 1000,
  maxRedialIntervalMs: 30_000,
  maxGossipBytes: 64 * KiB,
  maxPeers: 64,
  announceIntervalMs: 5000,
  maxRequestBytes: 64 * KiB,
  maxResponseBytes: 16 * MiB,
  requestTimeoutMs: 30_000,
  dialTimeoutMs: 10_000
}
const PEER_LIST_TIMEOUT_MS = 10_000
const CONNECTION_PING_INTERVAL_MS = 30_000
const CONNECTION_PING_TIMEOUT_MS = 20_000
/** A connected peer's missing gossip stream is reopened this long after connecting, and retried this often. */
const STREAM_REPAIR_MS = 2000
/**
 * A publisher heard this recently counts as a peer a direct publish must reach (reachesAll): long
 * enough to span a joiner's first connections, short enough that a peer gone for good stops
 * turning this node's periodic messages into relayed ones soon after.
 */
const HEARD_FROM_TTL_MS = 10_000
/** Bounds the publishers remembered; gossip comes only from swarm members, but they are untrusted. */
const MAX_HEARD_FROM = 4096
const CLOCK_SYNC_TIMEOUT_MS = 5000
/**
 * A clock stream kept for the next round is closed by the responder after this long unused: well
 * above the ~30 s between a peer's rounds (clock-offsets), so a mesh keeps one stream per pair.
 */
const CLOCK_STREAM_IDLE_MS = 120_000

export function createMeshNode(options: MeshNodeOptions): MeshNode {
  return new Libp2pMeshNode(options)
}

interface Subscription {
  full: string
  handlers: Set<GossipHandler>
}

interface StreamRegistration {
  protocol: string
  handler: ReturnType<typeof createStreamHandler>
  maxInboundStreams: number
}

class Libp2pMeshNode implements MeshNode {
  readonly peerId: string
  private readonly o: MeshNodeOptions
  private readonly clock: Clock
  private readonly log: MeshLogger
  private readonly meshName: string
  private readonly tuning: GossipTuning
  private readonly maxGossipBytes: number
  private readonly psk: Uint8Array | undefined
  private readonly listen: string[]
  private readonly announce: string[] | undefined
  private readonly dialTimeoutMs: number
  private node: Node | undefined
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new'
  private readonly subs = new Map<string, Subscription>()
  private readonly streams = new Map<string, StreamRegistration>()
  private readonly dialer: PeerDialer
  private readonly connected = new Set<string>()
  private readonly exchangePeers: PeerExchange
  private tickTimer: Timer | undefined
  private readonly connectedAt = new Map<string, number>()
  private readonly topicPeerHandlers = new Map<string, Set<(peerId: string) => void>>()
  /** Publishers of gossip this node received lately (peer id → clock.now()), see reachesAll. */
  private readonly heardFrom = new Map<string, number>()
  private readonly streamRepairs = new Map<string, number>()
  private gossipStreamRepairs = 0
  private readonly c = {
    messagesIn: 0, gossipBytesIn: 0, messagesOut: 0, gossipBytesOut: 0, droppedOversize: 0, droppedUnframed: 0,
    publishedDirect: 0, relayed: 0, handlerErrors: 0, requestsOut: 0, requestFailures: 0,
    clockSyncsIn: 0, clockSyncsOut: 0, clockSyncFailures: 0
  }
  /** Per peer, the clock stream of our last round with it, kept open for the next (clock-sync.ts). */
  private readonly clockStreams = new Map<string, { stream: ClockStream, at: number }>()
  private readonly streamCounters: StreamCounters = { requestsIn: 0, requestHandlerErrors: 0, requestsRefused: 0 }
  // The peer-list protocol is the mesh's own business; it does not show in the request statistics.
  private readonly internalCounters: StreamCounters = { requestsIn: 0, requestHandlerErrors: 0, requestsRefused: 0 }

  constructor(o: MeshNodeOptions) {
    this.o = o
    this.clock = o.clock
    this.log = o.logger ?? silentLogger
    this.meshName = validateMeshName(o.meshName)
    this.tuning = resolveGossipTuning(o.gossip)
    this.maxGossipBytes = positive(o.maxGossipBytes ?? DEFAULTS.maxGossipBytes, 'maxGossipBytes')
    this.psk = o.swarmKey === undefined ? undefined : swarmKeyBytes(o.swarmKey)
    if (o.listen.length === 0) throw new MeshConfigError('listen: at least one multiaddr is required, e.g. /ip4/0.0.0.0/tcp/4001')
    this.listen = o.listen.map((a) => checkAddr(a, 'listen'))
    this.announce = o.announce?.map((a) => checkAddr(a, 'announce'))
    if (o.privateKey.type !== 'Ed25519') throw new MeshConfigError(`privateKey must be Ed25519, got ${o.privateKey.type}`)
    this.peerId = peerIdFromPrivateKey(o.privateKey).toString()
    this.dialTimeoutMs = positive(o.dialTimeoutMs ?? DEFAULTS.dialTimeoutMs, 'dialTimeoutMs')
    const redial = positive(o.redialIntervalMs ?? DEFAULTS.redialIntervalMs, 'redialIntervalMs')
    const announceEvery = positive(o.announceIntervalMs ?? DEFAULTS.announceIntervalMs, 'announceIntervalMs')
    this.dialer = new PeerDialer({
      clock: this.clock,
      selfPeerId: this.peerId,
      dial: async (addrs) => {
        const conn = await this.requireNode().dial(addrs.length === 1 ? addrs[0] : addrs)
        return conn.remotePeer.toString()
      },
      connectedPeers: () => this.connected,
      logger: this.log,
      baseMs: redial,
      maxMs: Math.max(redial, positive(o.maxRedialIntervalMs ?? DEFAULTS.maxRedialIntervalMs, 'maxRedialIntervalMs')),
      maxPeers: positive(o.maxPeers ?? DEFAULTS.maxPeers, 'maxPeers'),
      // A peer still alive is re-announced at least every interval; three missed ones mean gone.
      peerTtlMs: 3 * announceEvery,
      // For the smaller peer to hear of us (our nudge announcement) and finish its dial on a busy
      // host. With 16 agents booting on 2 cores a dial (TCP connect plus three handshakes) took
      // 3-9 s and hearing of a peer up to ~10 s, so some pairs still dial each other twice
      // (docs/architecture.md); 10 s made the in-process A - B - C relay test flaky (2 of 6
      // failed, not explained), 5 s did not (0 of 6).
      graceMs: Math.max(5000, 3 * redial)
    })
    for (const s of o.seeds) this.dialer.addSeed(s)
    this.exchangePeers = new PeerExchange({
      clock: this.clock,
      logger: this.log,
      selfPeerId: this.peerId,
      dialer: this.dialer,
      connected: this.connected,
      announceIntervalMs: announceEvery,
      ownAddrs: () => this.node?.getMultiaddrs() ?? [],
      peerAddrs: async (id) => (await this.requireNode().peerStore.get(peerIdFromString(id))).addresses.map((a) => a.multiaddr),
      // Always relayed, with directPublish too: an announcement is for the peers we do not know of,
      // which a direct publish does not reach (two nodes whose pulls missed each other would
      // otherwise never learn of each other).
      publish: async (bytes) => { await this.publishFramed(peerExchangeTopic(this.meshName), bytes, 'relay') },
      // Not through request(): these are the mesh's own and do not show in the request statistics.
      pull: async (id) => await this.exchange(id, peerListProtocol(this.meshName), new Uint8Array(0), PEER_LIST_TIMEOUT_MS, MAX_ANNOUNCE_BYTES)
    })
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new MeshStateError(`mesh node ${this.peerId} was already started`)
    this.state = 'starting'
    try {
      const node = await createLibp2p<Services>({
        start: false,
        privateKey: this.o.privateKey,
        nodeInfo: { name: 'loadmesh' },
        addresses: { listen: this.listen, ...(this.announce !== undefined ? { announce: this.announce } : {}) },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        ...(this.psk !== undefined ? { connectionProtector: preSharedKey({ psk: this.psk }) } : {}),
        connectionManager: {
          // libp2p's defaults (5 connections per second per remote host, 10 pending upgrades) refuse
          // a mesh restarting at once behind one address, and every in-process test.
          inboundConnectionThreshold: 1000,
          maxIncomingPendingConnections: 256,
          dialTimeout: this.dialTimeoutMs,
          addressDialTimeout: this.dialTimeoutMs
        },
        // libp2p pings every connection every 10 s and aborts it when a ping takes over 5 s, or
        // when the previous ping's stream is still open (one ping stream per connection). On a
        // saturated host (16 agents booting on 2 cores) that aborted healthy connections by the
        // hundred: each abort cost gossip streams, a redial and fresh handshakes, which loaded the
        // host further. Liveness is the membership's business (heartbeats); this only has to find
        // connections to hosts that are gone, and half a minute is soon enough for that. The
        // timeout stays under the interval so that one slow ping never fails the next.
        connectionMonitor: {
          pingInterval: CONNECTION_PING_INTERVAL_MS,
          pingTimeout: { minTimeout: CONNECTION_PING_TIMEOUT_MS, maxTimeout: CONNECTION_PING_TIMEOUT_MS }
        },
        services: {
          identify: identify(),
          ping: ping(),
          pubsub: createGossipsub(this.tuning, Math.max(MiB, 4 * this.maxGossipBytes + 64 * KiB))
        }
      })
      this.node = node
      node.addEventListener('peer:connect', (evt) => {
        const peer = evt.detail.toString()
        this.connected.add(peer)
        this.connectedAt.set(peer, this.clock.now())
        this.log.debug({ peer }, 'mesh: peer connected')
        this.exchangePeers.onConnect(peer)
      })
      node.addEventListener('peer:disconnect', (evt) => {
        this.connected.delete(evt.detail.toString())
        this.connectedAt.delete(evt.detail.toString())
        this.log.debug({ peer: evt.detail.toString() }, 'mesh: peer disconnected')
        this.exchangePeers.onDisconnect()
      })
      for (const reg of this.streams.values()) await this.registerStream(node, reg)
      await this.registerStream(node, {
        protocol: clockProtocol(this.meshName),
        maxInboundStreams: 4,
        handler: async (stream) => {
          this.c.clockSyncsIn++
          const wall = this.preciseWall()
          answerClock(stream, {
            wall: wall.now,
            refresh: () => { wall.refresh() },
            clock: this.clock,
            idleMs: CLOCK_STREAM_IDLE_MS,
            onBad: (reason) => {
              this.c.clockSyncFailures++
              this.log.debug({ reason }, 'mesh: malformed clock probe')
            }
          })
        }
      })
      await this.registerStream(node, {
        protocol: peerListProtocol(this.meshName),
        maxInboundStreams: 4,
        handler: createStreamHandler(peerListProtocol(this.meshName), async () => await this.exchangePeers.peerList(), {
          maxRequestBytes: 16,
          maxResponseBytes: MAX_ANNOUNCE_BYTES,
          timeoutMs: PEER_LIST_TIMEOUT_MS
        }, { clock: this.clock, logger: this.log, counters: this.internalCounters })
      })
      try {
        await node.start()
      } catch (err) {
        // libp2p names no address and suggests a config knob users do not have; say which --listen failed.
        if ((err as Error)?.name === 'UnsupportedListenAddressesError') {
          throw new MeshConfigError(`listen: cannot listen on ${this.listen.map(String).join(', ')}: the port is in use or the address is not this host's; pick another port or address`)
        }
        throw err
      }
      if (this.stoppedDuringStart()) {
        await node.stop()
        return
      }
      const pubsub = node.services.pubsub
      asyncValidating(pubsub) // fail loudly now, not by silently never relaying
      if (!openGossipStreamsInParallel(pubsub, (peer) => { this.notifyTopicPeer(peer, null) })) this.log.debug({}, 'mesh: gossipsub internals changed; outbound streams open one at a time')
      pubsub.addEventListener('subscription-change', (evt) => {
        const peer = evt.detail.peerId.toString()
        for (const sub of evt.detail.subscriptions) if (sub.subscribe) this.notifyTopicPeer(peer, sub.topic)
      })
      pubsub.addEventListener('gossipsub:message', (evt) => { this.onGossip(evt.detail) })
      this.subscribeInternal(peerExchangeTopic(this.meshName), MAX_ANNOUNCE_BYTES)
      for (const sub of this.subs.values()) this.subscribeInternal(sub.full, this.maxGossipBytes)
      this.state = 'running'
      if (this.psk === undefined) {
        this.log.warn({ mesh: this.meshName }, 'mesh: no swarm key; any host that can reach this port can join the mesh')
      }
      this.log.info({ peerId: this.peerId, mesh: this.meshName, addresses: this.addresses() }, 'mesh: node started')
      this.exchangePeers.start()
      this.tick()
    } catch (err) {
      this.state = 'stopped'
      await Promise.resolve(this.node?.stop()).catch(() => {})
      throw err
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.dialer.stop()
    this.tickTimer?.cancel()
    this.exchangePeers.stop()
    for (const { stream } of this.clockStreams.values()) stream.abort(new MeshStateError('mesh node stopped'))
    this.clockStreams.clear()
    this.connected.clear()
    await this.node?.stop()
  }

  addresses(): string[] {
    return this.node?.getMultiaddrs().map(String) ?? []
  }

  connectedPeers(): string[] {
    return [...this.connected]
  }

  topicPeers(topic: string): string[] {
    const full = fullTopic(this.meshName, validateTopic(topic))
    const pubsub = this.node?.services.pubsub
    if (pubsub === undefined) return []
    // A peer's subscription arrives on the stream *it* opened; a publish goes out on the stream *we*
    // open, which can come later. gossipsub skips subscribers without one (the message is then lost
    // for them), so they are not counted. `streamsOutbound` is on the @libp2p/gossipsub 17 class,
    // not its interface; should it disappear, we fall back to counting every subscriber.
    const outbound = gossipInternals(pubsub).streamsOutbound
    return pubsub.getSubscribers(full).map(String).filter((id) => outbound?.has(id) ?? true)
  }

  onTopicPeer(topic: string, handler: (peerId: string) => void): () => void {
    const full = fullTopic(this.meshName, validateTopic(topic))
    let set = this.topicPeerHandlers.get(full)
    if (set === undefined) {
      set = new Set()
      this.topicPeerHandlers.set(full, set)
    }
    const entry = (peer: string): void => { handler(peer) }
    set.add(entry)
    return () => { set.delete(entry) }
  }

  /** `peer`'s gossip stream opened (topic null) or it subscribed to `topic`: tell who listens if both hold now. */
  private notifyTopicPeer(peer: string, topic: string | null): void {
    if (this.topicPeerHandlers.size === 0 || this.state !== 'running') return
    const internals = gossipInternals(this.node?.services.pubsub)
    if (internals.streamsOutbound === undefined || internals.topics === undefined) return
    if (!writable(internals.streamsOutbound.get(peer))) return
    for (const [full, handlers] of this.topicPeerHandlers) {
      if ((topic !== null && topic !== full) || internals.topics.get(full)?.has(peer) !== true) continue
      for (const h of [...handlers]) {
        try { h(peer) } catch (err) { this.log.warn({ peer, topic: full, error: (err as Error)?.message }, 'mesh: topic peer handler threw') }
      }
    }
  }

  waitForTopicPeers(topic: string, minPeers: number, timeoutMs: number): Promise<void> {
    validateTopic(topic)
    const deadline = this.clock.now() + timeoutMs
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.state === 'stopped') { reject(new MeshStateError(`mesh node ${this.peerId} stopped while waiting for peers on ${topic}`)); return }
        const have = this.state === 'running' ? this.topicPeers(topic).length : 0
        if (have >= minPeers) { resolve(); return }
        if (this.clock.now() >= deadline) {
          reject(new RequestTimeoutError(`only ${have} of ${minPeers} peers subscribed to ${topic} after ${timeoutMs} ms`))
          return
        }
        this.clock.setTimer(check, 20)
      }
      check()
    })
  }

  async publish(topic: string, bytes: Uint8Array, options: PublishOptions = {}): Promise<number> {
    const full = fullTopic(this.meshName, validateTopic(topic))
    if (bytes.length > this.maxGossipBytes) {
      throw new MessageTooLargeError(`gossip message of ${bytes.length} bytes on ${topic} is over the ${this.maxGossipBytes}-byte limit; send bulk data over a stream`)
    }
    this.requireRunning('publish')
    const recipients = await this.publishFramed(full, bytes, options.periodic === true ? 'periodic' : 'plain')
    this.c.messagesOut++
    this.c.gossipBytesOut += bytes.length
    return recipients
  }

  private async publishFramed(full: string, bytes: Uint8Array, kind: 'periodic' | 'plain' | 'relay'): Promise<number> {
    const mayGoDirect = kind === 'periodic' || (kind === 'plain' && this.o.directPublish === true)
    const flag: GossipFlag = mayGoDirect && this.reachesAll(full) ? DIRECT_TO_ALL : RELAY
    const result = await this.requireNode().services.pubsub.publish(full, frameGossip(flag, bytes))
    if (flag === DIRECT_TO_ALL) this.c.publishedDirect++
    return result.recipients.length
  }

  /**
   * Whether a publish on `full` now goes straight to every peer this node knows of: each connected
   * or peer-exchange-known peer has an open gossip stream from us and is subscribed, or (connected,
   * its subscriptions received) is known not to be. Anything unsure answers false: relaying costs
   * duplicates, not relaying wrongly costs a peer the message.
   */
  private reachesAll(full: string): boolean {
    const pubsub = this.node?.services.pubsub
    if (pubsub === undefined) return false
    const internals = gossipInternals(pubsub)
    const outbound = internals.streamsOutbound
    const inbound = internals.streamsInbound
    const topics = internals.topics
    // Internals of @libp2p/gossipsub 17; without them, always relay (the behaviour of plain gossipsub).
    if (outbound === undefined || inbound === undefined || topics === undefined) return false
    const subscribers = topics.get(full) ?? new Set<string>()
    const sends = (id: string): boolean => writable(outbound.get(id))
    const ok = (id: string): boolean => subscribers.has(id)
      ? sends(id)
      : inbound.has(id) // its subscriptions come first on its stream: not subscribed means not interested
    for (const id of this.connected) if (!ok(id)) return false
    for (const id of this.dialer.knownPeerIds()) if (!ok(id)) return false
    for (const id of subscribers) if (!sends(id)) return false
    // A peer whose gossip reached us through others exists even before peer exchange names it: a
    // joiner's first heartbeats are relayed to everyone within a second, and until now every
    // other peer went on marking its own heartbeats DIRECT_TO_ALL, which the joiner then never
    // got until a direct connection to each of them was up (3-5 s at 16 agents on 2 cores).
    const now = this.clock.now()
    for (const [id, at] of this.heardFrom) {
      if (now - at > HEARD_FROM_TTL_MS) this.heardFrom.delete(id)
      else if (!ok(id)) return false
    }
    return true
  }

  /**
   * gossipsub opens its outbound stream to a peer once, when the peer connects (or first opens a
   * stream to us). If that fails (a protocol negotiation timing out on a loaded host) or the stream
   * dies with its connection while a duplicate connection keeps the peer connected, it never tries
   * again: the peer then gets our messages only through relays, and nothing from us directly.
   * Seen at 16 agents on 2 cores, where a third of the connected pairs had no stream either way.
   * So every tick, a connected peer without one gets it reopened on an open connection (at most
   * every STREAM_REPAIR_MS per peer), through gossipsub's queue (see gossip-stream-opener.ts), which
   * skips peers that have one.
   */
  private repairGossipStreams(): void {
    const node = this.node
    if (node === undefined) return
    const internals = gossipInternals(node.services.pubsub)
    const { streamsOutbound, addPeer, outboundInflightQueue } = internals
    if (streamsOutbound === undefined || typeof addPeer !== 'function' || outboundInflightQueue === undefined) return
    const now = this.clock.now()
    for (const [id, at] of this.streamRepairs) if (!this.connected.has(id) || now - at > 10 * STREAM_REPAIR_MS) this.streamRepairs.delete(id)
    for (const id of this.connected) {
      const existing = streamsOutbound.get(id)
      if (existing !== undefined) {
        if (writable(existing)) continue
        // Its write side closed without the stream closing: gossipsub keeps it and every send to
        // the peer fails. Dropped here so that the queue below opens a new one.
        streamsOutbound.delete(id)
      }
      const connectedAt = this.connectedAt.get(id) ?? now
      const lastTry = this.streamRepairs.get(id) ?? connectedAt
      if (now - lastTry < STREAM_REPAIR_MS) continue
      const peerId = peerIdFromString(id)
      const connection = node.getConnections(peerId).find((c) => c.status === 'open')
      if (connection === undefined) continue
      this.streamRepairs.set(id, now)
      this.gossipStreamRepairs++
      this.log.debug({ peer: id }, 'mesh: reopening the gossip stream to a connected peer')
      addPeer.call(internals, peerId, connection.direction, connection.remoteAddr)
      outboundInflightQueue.push({ peerId, connection })
    }
  }

  subscribe(topic: string, handler: GossipHandler): () => void {
    const full = fullTopic(this.meshName, validateTopic(topic))
    if (this.state === 'stopped') throw new MeshStateError(`mesh node ${this.peerId} is stopped`)
    let sub = this.subs.get(full)
    if (sub === undefined) {
      sub = { full, handlers: new Set() }
      this.subs.set(full, sub)
      if (this.state === 'running') this.subscribeInternal(full, this.maxGossipBytes)
    }
    // Wrap so the same function subscribed twice is two subscriptions, each removed once.
    const entry: GossipHandler = (from, bytes) => handler(from, bytes)
    sub.handlers.add(entry)
    return () => {
      const s = this.subs.get(full)
      if (s === undefined || !s.handlers.delete(entry) || s.handlers.size > 0) return
      this.subs.delete(full)
      if (this.state === 'running' && this.node !== undefined) {
        this.node.services.pubsub.unsubscribe(full)
        this.node.services.pubsub.topicValidators.delete(full)
      }
    }
  }

  handleStream(protocol: string, handler: StreamRequestHandler, options: StreamHandlerOptions = {}): () => void {
    validateProtocol(protocol)
    if (this.streams.has(protocol)) throw new MeshConfigError(`a handler for ${protocol} is already registered`)
    if (this.state === 'stopped') throw new MeshStateError(`mesh node ${this.peerId} is stopped`)
    const reg: StreamRegistration = {
      protocol,
      maxInboundStreams: positive(options.maxInboundStreams ?? 8, 'maxInboundStreams'),
      handler: createStreamHandler(protocol, handler, {
        maxRequestBytes: positive(options.maxRequestBytes ?? DEFAULTS.maxRequestBytes, 'maxRequestBytes'),
        maxResponseBytes: positive(options.maxResponseBytes ?? DEFAULTS.maxResponseBytes, 'maxResponseBytes'),
        timeoutMs: positive(options.timeoutMs ?? DEFAULTS.requestTimeoutMs, 'timeoutMs')
      }, { clock: this.clock, logger: this.log, counters: this.streamCounters })
    }
    this.streams.set(protocol, reg)
    if (this.node !== undefined) {
      this.registerStream(this.node, reg).catch((err: unknown) => {
        this.log.warn({ protocol, error: (err as Error).message }, 'mesh: could not register stream handler')
      })
    }
    return () => {
      if (this.streams.get(protocol) !== reg) return
      this.streams.delete(protocol)
      if (this.node !== undefined && this.state !== 'stopped') Promise.resolve(this.node.unhandle(protocol)).catch(() => {})
    }
  }

  async request(peerId: string, protocol: string, bytes: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    validateProtocol(protocol)
    this.requireRunning('request')
    const timeoutMs = positive(options.timeoutMs ?? DEFAULTS.requestTimeoutMs, 'timeoutMs')
    const maxResponseBytes = positive(options.maxResponseBytes ?? DEFAULTS.maxResponseBytes, 'maxResponseBytes')
    this.c.requestsOut++
    try {
      return await this.exchange(peerId, protocol, bytes, timeoutMs, maxResponseBytes)
    } catch (err) {
      if (!(err instanceof MeshConfigError)) this.c.requestFailures++
      throw err
    }
  }

  private async exchange(peerId: string, protocol: string, bytes: Uint8Array, timeoutMs: number, maxResponseBytes: number): Promise<Uint8Array> {
    // Not requireRunning: peer-list pulls start on connections that open while start() finishes.
    const node = this.requireNode()
    let target: ReturnType<typeof peerIdFromString>
    try {
      target = peerIdFromString(peerId)
    } catch {
      throw new MeshConfigError(`request: "${peerId}" is not a peer id`)
    }
    const controller = new AbortController()
    const timer = this.clock.setTimer(() => { controller.abort() }, timeoutMs)
    let stream: Awaited<ReturnType<Node['dialProtocol']>> | undefined
    const onAbort = (): void => { stream?.abort(new Error(`${protocol} request timed out`)) }
    controller.signal.addEventListener('abort', onAbort)
    try {
      stream = await node.dialProtocol(target, protocol, { signal: controller.signal })
      controller.signal.throwIfAborted()
      sendFrame(stream, [bytes])
      await stream.close({ signal: controller.signal })
      // +1: the status byte that precedes the payload.
      const frame = await readFrame(stream, maxResponseBytes + 1, `${protocol} response from ${peerId}`, maxResponseBytes)
      return decodeResponse(frame, peerId, protocol)
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if (controller.signal.aborted) {
        throw new RequestTimeoutError(`${protocol} request to ${peerId} got no complete response within ${timeoutMs} ms`)
      }
      if (err instanceof MessageTooLargeError || err instanceof RemoteError) throw err
      throw new RequestFailedError(`${protocol} request to ${peerId} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    } finally {
      timer.cancel()
      controller.signal.removeEventListener('abort', onAbort)
    }
  }

  async measureClock(peerId: string, options: ClockProbeOptions = {}): Promise<ClockProbe[]> {
    const node = this.requireRunning('measureClock')
    const timeoutMs = positive(options.timeoutMs ?? CLOCK_SYNC_TIMEOUT_MS, 'timeoutMs')
    let target: ReturnType<typeof peerIdFromString>
    try {
      target = peerIdFromString(peerId)
    } catch {
      throw new MeshConfigError(`measureClock: "${peerId}" is not a peer id`)
    }
    this.c.clockSyncsOut++
    const controller = new AbortController()
    const timer = this.clock.setTimer(() => { controller.abort() }, timeoutMs)
    // The stream kept from this peer's last round, if it is still open and its round is far enough
    // back for the responder's budget; taken out of the pool while in use.
    const kept = this.clockStreams.get(peerId)
    this.clockStreams.delete(peerId)
    let stream = kept !== undefined && reusable(kept.stream) && this.clock.now() - kept.at >= PROBE_WINDOW_MS ? kept.stream : undefined
    if (kept !== undefined && stream === undefined) kept.stream.abort(new ClockSyncError('clock stream replaced'))
    const probes = options.probes ?? 5
    try {
      let result: ClockProbe[]
      try {
        stream ??= await node.dialProtocol(target, clockProtocol(this.meshName), { signal: controller.signal })
        result = await probeClock(stream, this.preciseWall().now, probes, controller.signal)
      } catch (err) {
        // A kept stream the responder closed meanwhile (idle, restarted): once more on a new one.
        if (stream === undefined || stream === kept?.stream || controller.signal.aborted) throw err
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        stream = await node.dialProtocol(target, clockProtocol(this.meshName), { signal: controller.signal })
        result = await probeClock(stream, this.preciseWall().now, probes, controller.signal)
      }
      this.keepClockStream(peerId, stream)
      return result
    } catch (err) {
      this.c.clockSyncFailures++
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if (controller.signal.aborted) throw new RequestTimeoutError(`clock probes of ${peerId} not done within ${timeoutMs} ms`)
      throw new RequestFailedError(`clock probes of ${peerId} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    } finally {
      timer.cancel()
    }
  }

  private keepClockStream(peerId: string, stream: ClockStream): void {
    if (this.state !== 'running' || this.clockStreams.has(peerId) || !reusable(stream)) {
      stream.close().catch(() => {})
      return
    }
    const entry = { stream, at: this.clock.now() }
    this.clockStreams.set(peerId, entry)
    const drop = (): void => { if (this.clockStreams.get(peerId) === entry) this.clockStreams.delete(peerId) }
    stream.addEventListener('close', drop)
    // The responder closes an idle stream: close ours too rather than find it closed at the next round.
    stream.addEventListener('remoteCloseWrite', () => { drop(); stream.close().catch(() => {}) })
  }

  /** The process's (shared with a run's T0); refreshed, when due, outside any stamp before each exchange. */
  private preciseWall(): PreciseWall {
    const wall = sharedPreciseWall(this.clock)
    wall.refresh()
    return wall
  }

  async sign(bytes: Uint8Array): Promise<Uint8Array> {
    return await signBytes(this.o.privateKey, bytes)
  }

  publicKey(): Uint8Array {
    return publicKeyBytes(this.o.privateKey)
  }

  stats(): MeshStats {
    const d = this.dialer.stats()
    return {
      connectedPeers: this.connected.size,
      knownPeers: d.knownPeers,
      ...this.c,
      ...this.exchangePeers.counters,
      ...this.streamCounters,
      gossipStreamRepairs: this.gossipStreamRepairs,
      dialAttempts: d.dialAttempts,
      dialFailures: d.dialFailures
    }
  }

  // A method so TypeScript does not narrow `state` across the awaits in start().
  private stoppedDuringStart(): boolean {
    return this.state === 'stopped'
  }

  private requireNode(): Node {
    if (this.node === undefined) throw new MeshStateError(`mesh node ${this.peerId} is not started`)
    return this.node
  }

  private requireRunning(what: string): Node {
    if (this.state !== 'running' || this.node === undefined) {
      throw new MeshStateError(`${what}: mesh node ${this.peerId} is ${this.state === 'stopped' ? 'stopped' : 'not started'}`)
    }
    return this.node
  }

  private async registerStream(node: Node, reg: StreamRegistration): Promise<void> {
    await node.handle(reg.protocol, reg.handler, { maxInboundStreams: reg.maxInboundStreams, maxOutboundStreams: 64, force: true })
  }

  private subscribeInternal(full: string, maxBytes: number): void {
    const pubsub = this.requireNode().services.pubsub
    // The size check runs as a topic validator: gossipsub then neither delivers nor forwards the
    // message, so one oversized message cannot travel the whole mesh.
    pubsub.topicValidators.set(full, (_peer, msg) => {
      const from = msg.type === 'signed' ? msg.from.toString() : undefined
      if (gossipFlag(msg.data) === undefined) {
        this.c.droppedUnframed++
        this.log.debug({ topic: full, bytes: msg.data.length, from }, 'mesh: gossip without a frame flag dropped')
        return TopicValidatorResult.Reject
      }
      if (msg.data.length - 1 <= maxBytes) return TopicValidatorResult.Accept
      this.c.droppedOversize++
      this.log.debug({ topic: full, bytes: msg.data.length - 1, limit: maxBytes, from }, 'mesh: oversized gossip dropped')
      return TopicValidatorResult.Reject
    })
    pubsub.subscribe(full)
  }

  private onGossip(detail: GossipsubMessage): void {
    const { msg, msgId, propagationSource } = detail
    // asyncValidation: gossipsub forwards only what we accept here. A DIRECT_TO_ALL message is
    // only marked valid in gossipsub's message cache: not forwarded, but advertised in IHAVE gossip
    // for the cache's few heartbeats, so a peer whose direct copy was lost (a send that failed,
    // a stream that died) still gets it from someone within a gossip round.
    if (this.node !== undefined) {
      const pubsub = this.node.services.pubsub
      if (gossipFlag(msg.data) === RELAY) {
        this.c.relayed++
        asyncValidating(pubsub).reportMessageValidationResult(msgId, propagationSource.toString(), TopicValidatorResult.Accept)
      } else {
        gossipInternals(pubsub).mcache?.validate?.(msgId)
      }
    }
    if (msg.type !== 'signed') return // StrictSign makes this unreachable; keep `from` trustworthy regardless
    const from = msg.from.toString()
    if (from !== this.peerId && (this.heardFrom.has(from) || this.heardFrom.size < MAX_HEARD_FROM)) this.heardFrom.set(from, this.clock.now())
    const data = gossipPayload(msg.data)
    if (msg.topic === peerExchangeTopic(this.meshName)) {
      this.exchangePeers.learn(from, data)
      return
    }
    const sub = this.subs.get(msg.topic)
    if (sub === undefined) return
    this.c.messagesIn++
    this.c.gossipBytesIn += data.length
    for (const handler of sub.handlers) {
      try {
        const result: unknown = handler(from, data)
        if (result instanceof Promise) result.catch((err: unknown) => { this.onHandlerError(msg.topic, from, err) })
      } catch (err) {
        this.onHandlerError(msg.topic, from, err)
      }
    }
  }

  private onHandlerError(topic: string, from: string, err: unknown): void {
    this.c.handlerErrors++
    this.log.warn({ topic, from, error: (err as Error)?.message ?? String(err) }, 'mesh: gossip handler threw')
  }

  private tick(): void {
    if (this.state !== 'running') return
    this.repairGossipStreams()
    this.dialer.tick()
    this.exchangePeers.tick()
    this.tickTimer = this.clock.setTimer(() => { this.tick() }, Math.min(this.o.redialIntervalMs ?? DEFAULTS.redialIntervalMs, 1000))
  }
}

/** A kept clock stream still usable for a round: open, and neither side done writing or reading. */
function reusable(stream: ClockStream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.readStatus === 'readable' && stream.remoteWriteStatus === 'writable'
}

/** Whether a gossipsub outbound stream can still be written (unknown internals: assume so). */
function writable(stream: unknown): boolean {
  if (stream === undefined) return false
  const status = (stream as { rawStream?: { writeStatus?: string } }).rawStream?.writeStatus
  return status === undefined || status === 'writable'
}

/**
 * The class has it (gossipsub's asyncValidation API) but @libp2p/gossipsub 17's interface does not
 * declare it. Without it nothing would ever be relayed, so its absence is an error.
 */
/**
 * What the node reads of @libp2p/gossipsub 17 beyond its interface. Each field may be missing in
 * another version; every user checks and falls back to plain gossipsub behaviour.
 */
interface GossipInternals {
  streamsOutbound?: Map<string, unknown>
  streamsInbound?: Map<string, unknown>
  topics?: Map<string, Set<string>>
  addPeer?: (peerId: unknown, direction: string, addr: unknown) => void
  outboundInflightQueue?: { push(job: { peerId: unknown, connection: unknown }): void }
  mcache?: { validate?: (id: string) => unknown }
}

function gossipInternals(pubsub: GossipSub | undefined): GossipInternals {
  return (pubsub ?? {}) as unknown as GossipInternals
}

function asyncValidating(pubsub: GossipSub): { reportMessageValidationResult(msgId: string, propagationSource: string, acceptance: TopicValidatorResult): void } {
  const p = pubsub as unknown as { reportMessageValidationResult?: unknown }
  if (typeof p.reportMessageValidationResult !== 'function') {
    throw new MeshStateError('this @libp2p/gossipsub has no reportMessageValidationResult: the mesh cannot decide what to relay')
  }
  return pubsub as unknown as { reportMessageValidationResult(msgId: string, propagationSource: string, acceptance: TopicValidatorResult): void }
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new MeshConfigError(`${name} must be a positive number, got ${n}`)
  return n
}

function checkAddr(text: string, what: string): string {
  try {
    multiaddr(text)
  } catch (err) {
    throw new MeshConfigError(`${what} address "${text}" is not a multiaddr: ${(err as Error).message}`)
  }
  return text
}
