import type { WindowSnapshot } from '@loadmesh/metrics'
import { ProtocolError } from './errors.ts'
import { readWindow } from './results.ts'
import type { WireWindow } from './results.ts'

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * A recorder's window snapshot in wire form (histograms base64-decoded: a third smaller). Throws
 * ProtocolError for a snapshot that cannot be sent as is: start_ms other than index × duration_ms
 * (a merged snapshot, not a recorder window), a fractional window length, a histogram that is not
 * base64, or a value over a wire limit.
 */
export function windowToWire(snapshot: WindowSnapshot): WireWindow {
  const where = `window ${snapshot.index}`
  if (snapshot.start_ms !== snapshot.index * snapshot.duration_ms) {
    throw new ProtocolError(
      'ERR_INVALID_FIELD',
      `${where}: start_ms ${snapshot.start_ms} is not index × duration_ms (${snapshot.index} × ${snapshot.duration_ms}); only recorder windows go on the wire`
    )
  }
  const histograms: Record<string, Uint8Array> = {}
  for (const [name, encoded] of Object.entries(snapshot.histograms)) {
    if (encoded === undefined) continue
    if (typeof encoded !== 'string' || encoded.length % 4 !== 0 || !BASE64_RE.test(encoded)) {
      throw new ProtocolError('ERR_INVALID_FIELD', `${where}.histograms.${name}: not a base64 string`)
    }
    histograms[name] = new Uint8Array(Buffer.from(encoded, 'base64'))
  }
  return readWindow(
    {
      index: snapshot.index,
      duration_ms: snapshot.duration_ms,
      revision: snapshot.revision,
      closed: snapshot.closed,
      counters: snapshot.counters,
      histograms
    },
    where
  )
}

/**
 * Back to the metrics package's form. The result has passed the wire checks only; run it through
 * metrics' `decodeSnapshot` (or `mergeSnapshots`), which validates the histograms themselves.
 */
export function windowFromWire(w: WireWindow): WindowSnapshot {
  const histograms: Record<string, string> = {}
  for (const [name, b] of Object.entries(w.histograms)) {
    histograms[name] = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
  }
  return {
    index: w.index,
    start_ms: w.index * w.duration_ms,
    duration_ms: w.duration_ms,
    closed: w.closed,
    revision: w.revision,
    counters: { ...w.counters, errors: { ...w.counters.errors }, clamped: { ...w.counters.clamped } },
    histograms: histograms as WindowSnapshot['histograms']
  }
}
