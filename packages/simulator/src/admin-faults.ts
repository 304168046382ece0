import type { ServerResponse } from 'node:http'
import { FaultConfigError } from './errors.ts'
import { parseFaultConfig } from './fault-config.ts'
import type { FaultController } from './fault-controller.ts'
import { sendError, sendJson } from './exchange.ts'
import type { ServerContext } from './exchange.ts'

/**
 * `/admin/faults`, JSON:
 * - GET: the faults in force (rates, upcoming timed faults, a brownout in progress, counts played);
 * - POST: adds faults, body in the file form (a list, or `{ "faults": [...] }`); a per-request kind
 *   replaces its previous rate, timed faults count their times from now. Answers with the new state.
 * - DELETE: removes every fault, or `?kind=K` only those of one kind; ends a brownout in progress.
 */
export function adminFaults(c: ServerContext, faults: FaultController, method: string, query: string, res: ServerResponse, readBody: (then: (raw: string) => void) => void): void {
  const ok = (): void => { sendJson(res, 200, JSON.stringify(faults.status())) }
  const bad = (err: unknown): void => {
    if (!(err instanceof FaultConfigError)) throw err
    sendError(c, res, 400, err.message, 'invalid_request_error', null, 'invalid_fault_config')
  }
  if (method === 'GET' || method === 'HEAD') {
    ok()
    return
  }
  if (method === 'DELETE') {
    const kind = new URLSearchParams(query).get('kind') ?? undefined
    try {
      faults.clear(kind)
    } catch (err) {
      bad(err)
      return
    }
    ok()
    return
  }
  if (method === 'POST') {
    readBody((raw) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(raw)
      } catch (err) {
        sendError(c, res, 400, `POST /admin/faults: the body is not JSON: ${(err as Error).message}`, 'invalid_request_error', null, 'invalid_fault_config')
        return
      }
      try {
        faults.add(parseFaultConfig(parsed, 'POST /admin/faults'), 'POST /admin/faults')
      } catch (err) {
        bad(err)
        return
      }
      ok()
    })
    return
  }
  sendError(c, res, 405, `Method ${method} is not allowed for /admin/faults; use GET, POST or DELETE.`, 'invalid_request_error', null, 'method_not_allowed', { allow: 'GET, POST, DELETE' })
}
