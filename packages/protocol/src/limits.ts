/**
 * Wire limits. Everything a peer sends is bounded so that a hostile or buggy peer costs a receiver a
 * bounded amount of memory and CPU; decoders check sizes before they decode and counts before they
 * allocate. Sizes are in bytes, string lengths in UTF-16 code units (ids are ASCII, so also bytes).
 */

/**
 * The major protocol version. A receiver rejects any other value (ERR_VERSION): compatible changes
 * (new fields) keep the version, anything else bumps it (see proto/loadmesh.proto).
 */
export const PROTOCOL_VERSION = 2

/** One gossipsub message (an encoded Envelope). */
export const MAX_ENVELOPE_BYTES = 64 * 1024
/** One frame of the reconcile stream, request side. */
export const MAX_RECONCILE_REQUEST_BYTES = 64 * 1024
/** One frame of the reconcile stream, response side. */
export const MAX_RECONCILE_RESPONSE_BYTES = 32 * 1024 * 1024
/**
 * RunPlan.config_json, UTF-8 bytes. Half the envelope so that a plan with every other field at its
 * limit still fits in one gossip message (a RunConfig is about 1 KB of JSON).
 */
export const MAX_CONFIG_JSON_BYTES = 32 * 1024

export const LIMITS = Object.freeze({
  envelopeBytes: MAX_ENVELOPE_BYTES,
  reconcileRequestBytes: MAX_RECONCILE_REQUEST_BYTES,
  reconcileResponseBytes: MAX_RECONCILE_RESPONSE_BYTES,
  configJsonBytes: MAX_CONFIG_JSON_BYTES,
  /** Peer, run, plan and command ids: 1..128 printable ASCII characters, no spaces. */
  idChars: 128,
  /** Mesh names: 1..64 of [A-Za-z0-9._-], first one alphanumeric (they go into topic names). */
  meshNameChars: 64,
  seedChars: 256,
  reasonChars: 1024,
  /** Multiaddrs in a heartbeat. */
  listenAddrs: 32,
  addrChars: 256,
  /** Members of an epoch, peers in a reconcile request or response. */
  members: 256,
  stages: 256,
  targets: 32,
  originChars: 256,
  /** Signed commands in one reconcile response (a plan, a stop, an abort and the epochs of one run). */
  commandsPerResponse: 1024,
  /** Windows in one ResultsDelta and in one PeerWindows. */
  windowsPerMessage: 4096,
  /** Windows in one ReconcileResponse frame, all peers together. */
  reconcileWindows: 65_536,
  histogramsPerWindow: 32,
  /** PeerWindows.breakdown: one encoded cumulative breakdown (metrics' MAX_ENCODED_BREAKDOWN_BYTES). */
  breakdownBytes: 8 * 1024 * 1024,
  /** One compressed HdrHistogram (what 300 000 base64 characters decode to, metrics' limit). */
  histogramBytes: 225_000,
  /** Keys of Counters.errors and Counters.clamped (metrics' own limit). */
  counterKeys: 256,
  counterKeyChars: 64,
  publicKeyBytes: 2048,
  signatureBytes: 1024,
  /** Largest window index and window length: index × length stays an exact integer in ms. */
  windowIndex: 10_000_000,
  windowMs: 86_400_000,
  /** One stage of a plan (about 24.8 days). */
  stageMs: 2 ** 31 - 1,
  rate: 1_000_000,
  concurrency: 1_000_000,
  weight: 1_000_000
})

/**
 * Bound on repeated and map entries per occurrence of their parent, checked on the raw bytes before
 * decoding (wire-scan.ts), so a 32 MiB frame of tiny entries cannot make the decoder build millions
 * of objects. Every repeated or map field of the schema must appear here (checked at load).
 */
export const LIST_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  'Heartbeat.listen_addrs': LIMITS.listenAddrs,
  'RunPlan.stages': LIMITS.stages,
  'RunPlan.target_allow': LIMITS.targets,
  'EpochChange.members': LIMITS.members,
  'ResultsDelta.windows': LIMITS.windowsPerMessage,
  'Window.histograms': LIMITS.histogramsPerWindow,
  'Counters.errors': LIMITS.counterKeys,
  'Counters.clamped': LIMITS.counterKeys,
  'ReconcileRequest.peers': LIMITS.members,
  'ReconcileResponse.peers': LIMITS.members,
  'ReconcileResponse.commands': LIMITS.commandsPerResponse,
  'PeerWindows.windows': LIMITS.windowsPerMessage
})

/** Bounds on a repeated field summed over the whole message (all parents together). */
export const LIST_TOTAL_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  'PeerWindows.windows': LIMITS.reconcileWindows
})

/**
 * Bound on all repeated/map entries in one message, at any depth: caps the objects a decode builds
 * (a full reconcile frame of windows with their histograms and error keys stays well under it).
 */
export const MAX_ENTRIES_PER_MESSAGE = 1 << 20
