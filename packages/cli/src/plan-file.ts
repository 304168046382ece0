import { readFile } from 'node:fs/promises'
import { parseDocument, LineCounter, isMap, isScalar, isPair } from 'yaml'
import { UsageError } from './exit-codes.ts'
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
  for (const item of doc.contents.items) {
    if (!isPair(item) || !isScalar(item.key)) throw new UsageError(`${at(undefined)}: plan keys must be plain names`)
    const key = String(item.key.value)
    const where = at(item.key.range?.[0])
    const flag = byName.get(key)
    if (flag === undefined || key === 'plan') {
      const near = nearest(key, [...byName.keys()])
      throw new UsageError(`${where}: unknown setting "${key}"`, near !== undefined ? `did you mean "${near}"?` : 'see `loadmesh run --help` for the settings')
    }
    const value = isScalar(item.value) ? item.value.value : undefined
    const vwhere = at((item.value as { range?: [number] } | null)?.range?.[0] ?? item.key.range?.[0])
    if (flag.type === 'boolean') {
      if (typeof value !== 'boolean') throw new UsageError(`${vwhere}: "${key}" must be true or false, got ${JSON.stringify(value)}`)
      out[key] = value
    } else {
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new UsageError(`${vwhere}: "${key}" must be a single value such as a number or a spec string`)
      }
      out[key] = String(value)
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
