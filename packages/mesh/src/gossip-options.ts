import { gossipsub, StrictSign } from '@libp2p/gossipsub'
import { MeshConfigError } from './errors.ts'

/**
 * Gossipsub settings for loadmesh's meshes: 2 to a few dozen peers, each usually connected to all
 * others (peer exchange sees to that), carrying small control messages where every peer must see
 * every message quickly.
 *
 *  - floodPublish: a publisher sends its own message straight to every connected subscriber, so with
 *    full connectivity delivery is one hop regardless of the gossip mesh's shape.
 *  - D/Dlo: the relay mesh (what forwards messages from peers we are not directly connected
 *    to). D=4, Dlo=3 (gossipsub's defaults are 6/4): every node forwards every new message to its
 *    D mesh peers, and with floodPublish and full connectivity all of those copies are duplicates,
 *    so the mesh's idle CPU grows with N x D (measured: forwarding and its writes were the largest
 *    part of an idle agent's CPU in a 16-agent mesh on 2 cores). Four relays still reach 64 peers
 *    in three hops, and gossip (IHAVE) covers a missed relay at the next heartbeat.
 *  - Dhi=16 (default 12; we had 8): gossipsub refuses a GRAFT from a peer that dialled it once its
 *    mesh has Dhi peers. A joiner's first GRAFTs go to the seeds, its only connections, and every
 *    earlier agent grafted them too: at Dhi=8 the seeds refused the last joiners, which were then
 *    in nobody's relay mesh and heard no relayed heartbeat (not even each other's) until their
 *    direct connections were up, 4-8 s later at 16 agents on 2 cores. At 16 the seeds take every
 *    joiner of a 17-peer mesh (16 agents and a controller); the heartbeat still prunes a mesh above
 *    Dhi back to D, and meshes only grow by GRAFTs, which a node sends while it has under Dlo.
 *  - heartbeat 500 ms (default 1 s): mesh repair after a join or a loss happens at heartbeats, and
 *    a small mesh can afford twice the (tiny) heartbeat traffic.
 *  - IP colocation penalty off: gossipsub's default punishes more than 10 peers behind one IP,
 *    which is every test on 127.0.0.1 and many NATed setups; membership is gated by the swarm key.
 *  - StrictSign: every message carries its sender's signature, so `from` can be trusted.
 *  - fastMsgIdFn (sender + sequence number, the same identity as the spec'd message id): in a full
 *    mesh every message arrives about D times, and without it each duplicate pays a signature check
 *    before being recognised. Ids enter that cache only after a message validated, so a forged
 *    copy cannot shadow the real one.
 *  - emitSelf off (a node's handlers never see its own messages); publishing with no subscribed
 *    peers is not an error (a lone agent keeps working).
 *  - IDONTWANT only for messages of 16 KiB and more (default 512 B): on receiving a message,
 *    gossipsub 1.2 sends an IDONTWANT to every mesh peer. A heartbeat (clock echoes for every peer)
 *    passes 512 B at about 8 peers, and then every heartbeat received cost up to Dhi extra RPCs,
 *    each encrypted and framed: about a tenth of an idle agent's CPU in an 8-agent mesh, to save
 *    resending a few hundred bytes. Results deltas, which can be tens of KiB, keep it.
 *  - Relaying is decided per message by the node (asyncValidation; see gossip-frame.ts): a message
 *    its publisher sent straight to every peer it knows is delivered and not relayed.
 *  - IHAVE gossip to 2 non-mesh peers per heartbeat (Dlazy, default 6): it repairs relays that
 *    went missing, and a node's own messages are always advertised, even those every peer already
 *    has; at 6 peers and 2 heartbeats a second that was as many RPCs as the heartbeats themselves.
 */
export interface GossipTuning {
  D: number
  Dlo: number
  Dhi: number
  heartbeatIntervalMs: number
}

const IDONTWANT_MIN_BYTES = 16 * 1024
const GOSSIP_TARGETS = 2

export const DEFAULT_GOSSIP_TUNING: GossipTuning = { D: 4, Dlo: 3, Dhi: 16, heartbeatIntervalMs: 500 }

export function resolveGossipTuning(partial: Partial<GossipTuning> | undefined): GossipTuning {
  const t = { ...DEFAULT_GOSSIP_TUNING, ...partial }
  for (const k of ['D', 'Dlo', 'Dhi', 'heartbeatIntervalMs'] as const) {
    if (!Number.isInteger(t[k]) || t[k] < 1) throw new MeshConfigError(`gossip.${k} must be a positive integer, got ${t[k]}`)
  }
  if (!(t.Dlo <= t.D && t.D <= t.Dhi)) {
    throw new MeshConfigError(`gossip degrees must satisfy Dlo <= D <= Dhi, got Dlo=${t.Dlo} D=${t.D} Dhi=${t.Dhi}`)
  }
  return t
}

export function createGossipsub(tuning: GossipTuning, maxInboundRpcBytes: number): ReturnType<typeof gossipsub> {
  return gossipsub({
    D: tuning.D,
    Dlo: tuning.Dlo,
    Dhi: tuning.Dhi,
    // Gossipsub requires Dout < Dlo and Dout <= D/2, Dscore <= D.
    Dout: Math.max(0, Math.min(2, tuning.Dlo - 1, Math.floor(tuning.D / 2))),
    Dscore: Math.min(4, tuning.D),
    heartbeatInterval: tuning.heartbeatIntervalMs,
    floodPublish: true,
    emitSelf: false,
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    globalSignaturePolicy: StrictSign,
    doPX: false,
    // Only loadmesh nodes are on the mesh; none speaks plain floodsub.
    fallbackToFloodsub: false,
    scoreParams: { IPColocationFactorWeight: 0 },
    maxInboundDataLength: maxInboundRpcBytes,
    idontwantMinDataSize: IDONTWANT_MIN_BYTES,
    // The node decides per message whether to relay (see gossip-frame.ts) by reporting it valid.
    asyncValidation: true,
    Dlazy: GOSSIP_TARGETS,
    fastMsgIdFn: (msg) => msg.from === undefined || msg.seqno === undefined
      ? ''
      : `${Buffer.from(msg.from).toString('base64')}:${Buffer.from(msg.seqno).toString('base64')}`
  })
}
