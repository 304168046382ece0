/**
 * Every gossip message's data is one flag byte followed by the payload. The flag is the publisher's
 * statement about its own reach, and decides whether receivers relay the message:
 *
 *  - DIRECT_TO_ALL: the publisher had a gossip stream to every peer it knows of (connected,
 *    learned through peer exchange and not yet forgotten, or heard from through relays in the last
 *    10 s), and gossipsub's floodPublish sent the
 *    message to each of them. Every copy a receiver would forward is then a duplicate, so
 *    receivers deliver it and do not relay it (they still advertise it in IHAVE gossip, which
 *    repairs a lost direct copy, but only towards peers outside their relay mesh: in a mesh of
 *    at most Dhi + 1 peers there are none). Only for periodic messages (heartbeats: the next one
 *    supersedes a lost copy), or every message with the node's experimental `directPublish` option.
 *  - RELAY: anything else (a peer known but not connected, a stream not open yet, a peer list
 *    still arriving), and every message that is not periodic by default. Receivers relay it through the gossipsub
 *    mesh as usual.
 *
 * Why: in a full mesh of N peers with relaying, each message crossed the wire about N x D times
 * instead of N, and those copies (each framed, encrypted twice and written separately) were most
 * of an idle agent's CPU at 16 agents on 2 cores. A wrong DIRECT_TO_ALL should only cost a peer
 * the publisher does not know of yet (it joined a moment ago through someone else): its connection
 * to the publisher follows within a peer-exchange round trip, and commands issued before that are
 * re-sent to newcomers by their issuers. The 5-agent SIGKILL test (test/mesh-cluster) failed with
 * it (false deaths); traced later on a loaded host, the default failed the same way, from heartbeat
 * timers firing seconds late rather than lost messages (docs/architecture.md): still off by default.
 *
 * The flag is not authenticated beyond the gossip signature (it is inside the signed data), so a
 * member can at worst make its own messages reach fewer peers: it could do that by not sending.
 */
export const RELAY = 1
export const DIRECT_TO_ALL = 2

export type GossipFlag = typeof RELAY | typeof DIRECT_TO_ALL

export function frameGossip(flag: GossipFlag, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1)
  out[0] = flag
  out.set(payload, 1)
  return out
}

/** The flag of a framed message, or undefined when it is not one of ours (empty or an unknown flag). */
export function gossipFlag(data: Uint8Array): GossipFlag | undefined {
  const f = data[0]
  return f === RELAY || f === DIRECT_TO_ALL ? f : undefined
}

export function gossipPayload(data: Uint8Array): Uint8Array {
  return data.subarray(1)
}
