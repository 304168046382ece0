import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseDocument, LineCounter, isMap, isNode, isScalar, isPair } from 'yaml'
import { parseFaultConfig } from '@loadmesh/simulator'
import { UsageError } from './exit-codes.ts'
import { REHEARSE_FLAGS, SIM_ENGINE_FLAGS } from './options.ts'
import type { FlagDoc } from './options.ts'

export type FlagValues = Record<string, string | boolean | undefined>

/**
 * A plan file holds the same settings as the flags, keyed by flag name (`rate: 50`,
 * `input-tokens: fixed:512`). Every problem is reported with file and line, so a typo such as
 * `rat: 50` never silently falls back to a default.
 */
export async function readPlanFile (path: string, flags: FlagDoc[]): Promise<FlagValues> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new UsageError(`--plan: cannot read "${path}": ${(err as Error).message}`)
  }
  return parsePlanText(text, path, flags)
}

export function parsePlanText (text: string, path: string, flags: FlagDoc[]): FlagValues {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return path
    const { line, col } = lines.linePos(offset)
    return `${path}:${line}:${col}`
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    throw new UsageError(`${at(e.pos[0])}: not valid YAML: ${e.message.split('\n')[0]}`)
  }
  const out: FlagValues = {}
  if (doc.contents === null) return out
  if (!isMap(doc.contents)) throw new UsageError(`${path}: a plan is a mapping of settings (e.g. "rate: 50"), got ${typeof doc.toJS()}`)
  const byName = new Map(flags.map((f) => [f.name, f]))
  /**
   * Faults are a list, not a flag value: they travel on as inline JSON (what --faults also takes),
   * checked here so a mistake is reported against the plan.
   */
  const setFaults = (node: unknown, where: string): void => {
    if (out.faults !== undefined) throw new UsageError(`${where}: faults are given twice (at the top and in the simulator section)`)
    const value: unknown = isNode(node) ? node.toJSON() : node
    try {
      parseFaultConfig(value, `${where}: faults`)
    } catch (err) {
      const e = err as Error & { code?: string }
      if (e.code === 'ERR_BAD_FAULT_CONFIG') throw new UsageError(e.message, 'the fault format is in docs/simulator.md')
      throw err
    }
    out.faults = JSON.stringify(value ?? [])
  }
  const simKeys = [...REHEARSE_FLAGS, ...SIM_ENGINE_FLAGS].map((f) => f.name)
  for (const item of doc.contents.items) {
    if (!isPair(item) || !isScalar(item.key)) throw new UsageError(`${at(undefined)}: plan keys must be plain names`)
    const key = String(item.key.value)
    const where = at(item.key.range?.[0])
    if (key === 'simulator' || key === 'faults') {
      if (!byName.has('faults')) throw new UsageError(`${where}: "${key}" configures the simulator; only \`loadmesh rehearse\` takes it`)
      if (key === 'faults') {
        setFaults(item.value, where)
        continue
      }
      if (!isMap(item.value)) throw new UsageError(`${where}: "simulator" must be a mapping of simulator settings (${simKeys.join(', ')})`)
      for (const sub of item.value.items) {
        if (!isPair(sub) || !isScalar(sub.key)) throw new UsageError(`${where}: simulator keys must be plain names`)
        const sk = String(sub.key.value)
        const swhere = at(sub.key.range?.[0])
        if (sk === 'faults') {
          setFaults(sub.value, swhere)
          continue
        }
        if (!simKeys.includes(sk) || !byName.has(sk)) {
          const near = nearest(sk, simKeys)
          throw new UsageError(`${swhere}: unknown simulator setting "${sk}"`, near !== undefined ? `did you mean "${near}"?` : `simulator settings: ${simKeys.join(', ')}`)
        }
        const value = isScalar(sub.value) ? sub.value.value : undefined
        if (byName.get(sk)?.type === 'boolean') {
          if (typeof value !== 'boolean') throw new UsageError(`${swhere}: "simulator.${sk}" must be true or false, got ${JSON.stringify(value)}`)
          out[sk] = value
          continue
        }
        if (typeof value !== 'string' && typeof value !== 'number') {
          throw new UsageError(`${at((sub.value as { range?: [number] } | null)?.range?.[0] ?? sub.key.range?.[0])}: "simulator.${sk}" must be a single value`)
        }
        out[sk] = String(value)
      }
      continue
    }
    const flag = byName.get(key)
    if (flag === undefined || key === 'plan') {
      const near = nearest(key, [...byName.keys()])
      throw new UsageError(`${where}: unknown setting "${key}"`, near !== undefined ? `did you mean "${near}"?` : 'see `loadmesh run --help` for the settings')
    }
    const vwhere = at((item.value as { range?: [number] } | null)?.range?.[0] ?? item.key.range?.[0])
    if (key === 'endpoint-mix' && isMap(item.value)) {
      // The natural YAML form: `endpoint-mix: {chat: 0.7, embeddings: 0.3}`, same as chat=0.7,embeddings=0.3.
      const parts: string[] = []
      for (const sub of item.value.items) {
        const v = isPair(sub) && isScalar(sub.value) ? sub.value.value : undefined
        if (!isPair(sub) || !isScalar(sub.key) || (typeof v !== 'number' && typeof v !== 'string')) {
          throw new UsageError(`${vwhere}: "endpoint-mix" entries must be endpoint: weight (e.g. chat: 0.7)`)
        }
        parts.push(`${String(sub.key.value)}=${String(v)}`)
      }
      out[key] = parts.join(',')
      continue
    }
    const value = isScalar(item.value) ? item.value.value : undefined
    if (flag.type === 'boolean') {
      if (typeof value !== 'boolean') throw new UsageError(`${vwhere}: "${key}" must be true or false, got ${JSON.stringify(value)}`)
      out[key] = value
    } else {
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new UsageError(`${vwhere}: "${key}" must be a single value such as a number or a spec string`)
      }
      // A log or model named in a plan is found next to the plan, wherever the command runs.
      out[key] = (key === 'replay' || key === 'workload') ? resolve(dirname(path), String(value)) : String(value)
    }
  }
  return out
}

/** Closest name by edit distance, when close enough to be a likely typo. */
function nearest (word: string, names: string[]): string | undefined {
  let best: string | undefined
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const n of names) {
    const d = editDistance(word, n)
    if (d < bestD) { bestD = d; best = n }
  }
  return best
}

function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]
}
