import { readFileSync } from 'node:fs'
import protobuf from 'protobufjs'
import type { Type } from 'protobufjs'
import { LIST_LIMITS } from './limits.ts'

/*
 * The .proto is parsed at load time rather than compiled to code: Node runs our TypeScript directly,
 * and a generated module would be a second source of truth to keep in sync. `keepCase` keeps the
 * snake_case names, so the TypeScript interfaces, the .proto and the docs use the same field names.
 */
const PROTO_FILE = new URL('../proto/loadmesh.proto', import.meta.url)

const root = protobuf.parse(readFileSync(PROTO_FILE, 'utf8'), { keepCase: true }).root
root.resolveAll()

function type(name: string): Type {
  return root.lookupType(`loadmesh.v1.${name}`)
}

export const schema = {
  Envelope: type('Envelope'),
  Heartbeat: type('Heartbeat'),
  SignedCommand: type('SignedCommand'),
  Command: type('Command'),
  ResultsDelta: type('ResultsDelta'),
  Window: type('Window'),
  ReconcileRequest: type('ReconcileRequest'),
  ReconcileResponse: type('ReconcileResponse')
}

/** Every repeated or map field must have a count limit, or the pre-decode scan would not bound it. */
for (const t of allTypes(root)) {
  for (const f of t.fieldsArray) {
    if ((f.repeated || f.map) && LIST_LIMITS[`${t.name}.${f.name}`] === undefined) {
      throw new Error(`protocol schema: ${t.name}.${f.name} is repeated but has no entry in LIST_LIMITS`)
    }
  }
}

/**
 * Generates every message type's encoder and decoder now. protobufjs builds them on a type's first
 * use (~15 ms for the schema): an agent calls this before it joins rather than pay it on the plan it
 * adopts seconds before T0.
 */
export function prepareCodecs(): void {
  // setup() generates the code again on every call: once is enough.
  if (codecsPrepared) return
  codecsPrepared = true
  for (const t of allTypes(root)) t.setup()
}
let codecsPrepared = false

function allTypes(ns: protobuf.NamespaceBase): Type[] {
  const out: Type[] = []
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) out.push(o)
    if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) out.push(...allTypes(o))
  }
  return out
}
