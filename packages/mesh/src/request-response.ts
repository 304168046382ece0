import { encode, decode } from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Libp2p } from 'libp2p'
import type { Clock } from '@loadmesh/clock'
import type { MeshLogger } from './logger.ts'
import { MessageTooLargeError, RemoteError } from './errors.ts'

/**
 * One request, one response, over a fresh libp2p stream (this carries `/loadmesh/reconcile/1.0.0`:
 * bulk snapshots stay off gossip).
 *
 * Wire format, both frames unsigned-varint length-prefixed:
 *   requester → responder: <len><request bytes>, then the requester closes its write side
 *   responder → requester: <len><status byte><payload>
 *     status 0: payload is the response
 *     status 1: payload is UTF-8 "<CODE>\n<message>" (the responder's handler threw, the request
 *               was over its limit, or the response would have been over its limit)
 *
 * Both sides read the length prefix first and refuse a frame over their limit before buffering
 * its body; both sides stop after their timeout.
 */

type Stream = Awaited<ReturnType<Libp2p['dialProtocol']>>
type Connection = Awaited<ReturnType<Libp2p['dial']>>

const STATUS_OK = 0
const STATUS_ERROR = 1
const MAX_ERROR_TEXT = 512

export interface StreamHandlerLimits {
  maxRequestBytes: number
  maxResponseBytes: number
  timeoutMs: number
}

export interface StreamHandlerContext {
  /** Aborted when the responder's timeout passes or the stream dies; the response is then dropped. */
  signal: AbortSignal
}

/** Answers one request from peer `from`. Throwing sends the error's `code` and message back. */
export type StreamRequestHandler = (from: string, request: Uint8Array, context: StreamHandlerContext) => Promise<Uint8Array>

export interface StreamCounters {
  requestsIn: number
  requestHandlerErrors: number
  requestsRefused: number
}

/** Reads one length-prefixed frame, refusing (before buffering) a declared length over `maxBytes`. */
export async function readFrame(stream: Stream, maxBytes: number, what: string, limitForHumans = maxBytes): Promise<Uint8Array> {
  try {
    for await (const frame of decode(stream, { maxDataLength: maxBytes })) {
      return frame.subarray()
    }
  } catch (err) {
    if ((err as Error).name === 'InvalidDataLengthError') {
      throw new MessageTooLargeError(`${what} is over the ${limitForHumans}-byte limit`)
    }
    throw err
  }
  throw new Error(`stream ended before a complete ${what} arrived`)
}

export function sendFrame(stream: Stream, parts: Uint8Array[]): void {
  const frame = encode.single(new Uint8ArrayList(...parts))
  // The frame is queued whole; make sure the write buffer limit cannot reset the stream under it.
  if (stream.maxWriteBufferLength !== undefined && stream.maxWriteBufferLength < frame.byteLength * 2) {
    stream.maxWriteBufferLength = frame.byteLength * 2
  }
  stream.send(frame)
}

export function encodeError(code: string, message: string): Uint8Array {
  return new TextEncoder().encode(`${code}\n${message}`.slice(0, MAX_ERROR_TEXT))
}

/** Interprets a response frame: the payload, or a `RemoteError` carrying the responder's code. */
export function decodeResponse(frame: Uint8Array, peer: string, protocol: string): Uint8Array {
  if (frame.length === 0) throw new RemoteError('ERR_PROTOCOL', `${protocol} response from ${peer} is empty (no status byte)`)
  if (frame[0] === STATUS_OK) return frame.subarray(1)
  if (frame[0] === STATUS_ERROR) {
    const text = new TextDecoder().decode(frame.subarray(1, 1 + MAX_ERROR_TEXT))
    const nl = text.indexOf('\n')
    const code = nl < 0 ? 'ERR_REMOTE' : text.slice(0, nl)
    const message = nl < 0 ? text : text.slice(nl + 1)
    throw new RemoteError(code, `${protocol} request to ${peer} failed there: ${message}`)
  }
  throw new RemoteError('ERR_PROTOCOL', `${protocol} response from ${peer} has unknown status ${frame[0]}`)
}

export function okFrameParts(payload: Uint8Array): Uint8Array[] {
  return [Uint8Array.of(STATUS_OK), payload]
}

export function errorFrameParts(code: string, message: string): Uint8Array[] {
  return [Uint8Array.of(STATUS_ERROR), encodeError(code, message)]
}

/**
 * Wraps a request handler as a libp2p stream handler enforcing the limits. Never throws: a bad
 * request, a throwing handler or a dead stream ends that stream only.
 */
export function createStreamHandler(
  protocol: string,
  handler: StreamRequestHandler,
  limits: StreamHandlerLimits,
  deps: { clock: Clock, logger: MeshLogger, counters: StreamCounters }
): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const from = connection.remotePeer.toString()
    deps.counters.requestsIn++
    const controller = new AbortController()
    const timer = deps.clock.setTimer(() => {
      controller.abort()
      stream.abort(new Error(`${protocol}: no response within ${limits.timeoutMs} ms`))
    }, limits.timeoutMs)
    const onClose = (): void => { controller.abort() }
    stream.addEventListener('close', onClose)
    try {
      let request: Uint8Array
      try {
        request = await readFrame(stream, limits.maxRequestBytes, `${protocol} request from ${from}`)
      } catch (err) {
        if (!(err instanceof MessageTooLargeError)) throw err
        deps.counters.requestsRefused++
        deps.logger.warn({ peer: from, protocol, limit: limits.maxRequestBytes }, 'mesh: request over the size limit refused')
        sendFrame(stream, errorFrameParts(err.code, `request is over the ${limits.maxRequestBytes}-byte limit`))
        await stream.close()
        return
      }
      let response: Uint8Array
      try {
        // Raced against the abort so a handler that never settles cannot pin this stream's timer.
        response = await untilAborted(handler(from, request, { signal: controller.signal }), controller.signal)
      } catch (err) {
        if (controller.signal.aborted) return
        deps.counters.requestHandlerErrors++
        const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERR_HANDLER'
        deps.logger.warn({ peer: from, protocol, error: (err as Error)?.message, code }, 'mesh: request handler threw')
        sendFrame(stream, errorFrameParts(code, String((err as Error)?.message ?? err)))
        await stream.close()
        return
      }
      if (controller.signal.aborted) return
      if (!(response instanceof Uint8Array)) {
        deps.counters.requestHandlerErrors++
        sendFrame(stream, errorFrameParts('ERR_HANDLER', 'handler returned no bytes'))
      } else if (response.length > limits.maxResponseBytes) {
        deps.counters.requestHandlerErrors++
        deps.logger.warn({ peer: from, protocol, bytes: response.length, limit: limits.maxResponseBytes }, 'mesh: response over the size limit not sent')
        sendFrame(stream, errorFrameParts('ERR_MESSAGE_TOO_LARGE', `response of ${response.length} bytes is over the responder's ${limits.maxResponseBytes}-byte limit`))
      } else {
        sendFrame(stream, okFrameParts(response))
      }
      await stream.close()
    } catch (err) {
      if (!controller.signal.aborted) deps.logger.debug({ peer: from, protocol, error: (err as Error)?.message }, 'mesh: request stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      timer.cancel()
      stream.removeEventListener('close', onClose)
    }
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(new Error('aborted')) }
    signal.addEventListener('abort', onAbort, { once: true })
    Promise.resolve(work).then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
