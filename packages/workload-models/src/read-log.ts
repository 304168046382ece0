import { readFile } from 'node:fs/promises'
import { parse as parseCsv } from 'csv-parse/sync'
import { countTokens } from '@loadmesh/workload'
import type { ParseLogOptions, WorkloadEndpoint, WorkloadLog, WorkloadLogFormat, WorkloadRecord } from './types.ts'
import { WORKLOAD_ENDPOINTS } from './types.ts'
import type { LogProblem } from './errors.ts'
import { LogFormatError, WorkloadModelOptionError } from './errors.ts'
import type { SplitTime } from './timestamps.ts'
import { diffMs, fromUnixSeconds, parseTimestampText, toIso } from './timestamps.ts'

/** Attribution for the Azure LLM inference trace, to keep wherever the trace is used. */
export const AZURE_ATTRIBUTION = 'Azure LLM inference trace 2023 (Azure Public Dataset), CC-BY 4.0; ' +
  'Patel et al., "Splitwise: Efficient Generative LLM Inference Using Phase Splitting", ISCA 2024'

const FORMATS: readonly WorkloadLogFormat[] = ['azure', 'openai', 'generic-csv', 'generic-jsonl']
const AZURE_COLUMNS = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens']
/** Columns of the generic schema (CSV header names, JSONL keys). */
const GENERIC_FIELDS = [
  'timestamp', 'at_ms', 'endpoint', 'model', 'stream', 'input_tokens', 'output_tokens', 'max_tokens',
  'prompt', 'session_id', 'turn', 'region', 'client_type', 'intent'
]
const CLASS_FIELDS = ['region', 'client_type', 'intent']
const CLASS_PREFIX = /^class[_.](.+)$/

/** Reads and parses a request log; throws LogFormatError listing every problem found (up to a limit). */
export async function readWorkloadLog (path: string, opts: ParseLogOptions = {}): Promise<WorkloadLog> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new LogFormatError(path, [{ line: 0, field: null, message: e.code === 'ENOENT' ? 'no such file' : `cannot read: ${e.message}` }])
  }
  return parseWorkloadLog(text, path, opts)
}

/** Thrown inside the parser when the problem limit is reached. */
class TooManyProblems extends Error {}

class Problems {
  readonly list: LogProblem[] = []
  readonly max: number
  truncated = false
  constructor (max: number) { this.max = max }
  add (line: number, field: string | null, message: string): void {
    if (this.list.length >= this.max) {
      this.truncated = true
      throw new TooManyProblems()
    }
    this.list.push({ line, field, message })
  }
}

type TimeValue = { kind: 'absolute'; t: SplitTime } | { kind: 'relative'; ms: number }
interface Pending { time: TimeValue; record: Omit<WorkloadRecord, 'atMs'> }

/**
 * Parses a request log held in memory. `source` names it in errors. The format is detected from
 * the content unless given: JSON Lines whose objects have a `request` (or `body`) object are OpenAI
 * request logs, other JSON Lines the generic schema; a CSV with the header
 * TIMESTAMP,ContextTokens,GeneratedTokens is the Azure trace, any other CSV the generic schema.
 */
export function parseWorkloadLog (text: string, source: string, opts: ParseLogOptions = {}): WorkloadLog {
  const maxProblems = opts.maxProblems ?? 20
  if (!(Number.isInteger(maxProblems) && maxProblems >= 1)) throw new WorkloadModelOptionError(`maxProblems must be a positive integer, got ${String(maxProblems)}`)
  if (opts.format !== undefined && !FORMATS.includes(opts.format)) {
    throw new WorkloadModelOptionError(`format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}`)
  }
  const problems = new Problems(maxProblems)
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let format: WorkloadLogFormat = 'generic-csv'
  let pending: Pending[] = []
  try {
    const first = body.trimStart()[0]
    if (first === undefined) {
      problems.add(0, null, 'the log is empty')
    } else if (first === '{' || first === '[') {
      if (first === '[') problems.add(1, null, 'a JSON array: expected JSON Lines (one JSON object per line)')
      else ({ format, pending } = parseJsonl(body, opts.format ?? null, problems))
    } else {
      ({ format, pending } = parseCsvLog(body, opts.format ?? null, problems))
    }
    if (problems.list.length === 0 && pending.length === 0) problems.add(0, null, 'the log has no records')
  } catch (err) {
    if (!(err instanceof TooManyProblems)) throw err
  }
  let records: WorkloadRecord[] = []
  let startedAt: string | null = null
  if (problems.list.length === 0) {
    try {
      ({ records, startedAt } = placeInTime(pending, problems))
    } catch (err) {
      if (!(err instanceof TooManyProblems)) throw err
    }
  }
  if (problems.list.length > 0) throw new LogFormatError(source, problems.list, problems.truncated)
  return { source, format, records, startedAt }
}

// ---- time ---------------------------------------------------------------------------------

function placeInTime (pending: Pending[], problems: Problems): { records: WorkloadRecord[]; startedAt: string | null } {
  const kind = pending[0].time.kind
  for (const p of pending) {
    if (p.time.kind !== kind) {
      problems.add(p.record.line, p.time.kind === 'relative' ? 'at_ms' : 'timestamp',
        `line ${pending[0].record.line} gives ${kind === 'relative' ? 'at_ms' : 'an absolute timestamp'}; every record must use the same kind of time`)
    }
  }
  if (problems.list.length > 0) return { records: [], startedAt: null }
  const first = pending[0].time
  const records: WorkloadRecord[] = []
  let prev = Number.NEGATIVE_INFINITY
  let prevLine = 0
  for (const p of pending) {
    const atMs = p.time.kind === 'relative' ? p.time.ms - (first as { ms: number }).ms : diffMs(p.time.t, (first as { t: SplitTime }).t)
    if (atMs < prev) {
      problems.add(p.record.line, p.time.kind === 'relative' ? 'at_ms' : 'timestamp',
        `timestamps must not decrease: this record is ${(prev - atMs).toFixed(3)} ms earlier than line ${prevLine}'s (sort the log by time)`)
    } else {
      prev = atMs
      prevLine = p.record.line
    }
    records.push({ atMs, ...p.record } as WorkloadRecord)
  }
  return { records, startedAt: first.kind === 'absolute' ? toIso(first.t) : null }
}

function parseTime (value: unknown, field: string, line: number, problems: Problems): SplitTime | null {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return fromUnixSeconds(value)
  } else if (typeof value === 'string') {
    const trimmed = value.trim()
    if (/^\d+(\.\d+)?$/.test(trimmed)) return fromUnixSeconds(Number(trimmed))
    const t = parseTimestampText(trimmed)
    if (t !== null) return t
  }
  problems.add(line, field, `expected an ISO-8601 time (e.g. 2024-05-01T12:00:00.250Z) or Unix seconds, got ${show(value)}`)
  return null
}

// ---- field helpers ------------------------------------------------------------------------

function show (v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s
}

/** A row of the generic schema, from CSV (all strings, '' = absent) or JSON. */
interface Row {
  line: number
  textual: boolean
  get (name: string): unknown
  keys (): string[]
}

function present (row: Row, name: string): boolean {
  const v = row.get(name)
  return v !== undefined && v !== null && !(row.textual && typeof v === 'string' && v.trim() === '')
}

function intField (row: Row, name: string, problems: Problems, min = 0): number | undefined {
  if (!present(row, name)) return undefined
  const v = row.get(name)
  let n = Number.NaN
  if (typeof v === 'number') n = v
  else if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) n = Number(v)
  if (!Number.isSafeInteger(n) || n < min) {
    problems.add(row.line, name, `expected ${min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`}, got ${show(v)}`)
    return undefined
  }
  return n
}

function stringField (row: Row, name: string, problems: Problems): string | undefined {
  if (!present(row, name)) return undefined
  const v = row.get(name)
  if (typeof v === 'string') return row.textual ? v.trim() : v
  if (typeof v === 'number' && !row.textual) return String(v)
  problems.add(row.line, name, `expected a string, got ${show(v)}`)
  return undefined
}

function boolField (row: Row, name: string, problems: Problems): boolean | undefined {
  if (!present(row, name)) return undefined
  const v = row.get(name)
  if (typeof v === 'boolean') return v
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase()
    if (t === 'true' || t === '1' || t === 'yes') return true
    if (t === 'false' || t === '0' || t === 'no') return false
  }
  problems.add(row.line, name, `expected true or false, got ${show(v)}`)
  return undefined
}

function endpointField (value: unknown, field: string, line: number, problems: Problems): WorkloadEndpoint | undefined {
  if (typeof value === 'string') {
    let path = value.trim()
    if (/^https?:\/\//i.test(path)) {
      try { path = new URL(path).pathname } catch { /* reported below */ }
    }
    path = path.replace(/\/+$/, '')
    if (!path.startsWith('/')) path = '/' + path
    if (!path.startsWith('/v1/')) path = '/v1' + path
    if ((WORKLOAD_ENDPOINTS as readonly string[]).includes(path)) return path as WorkloadEndpoint
  }
  problems.add(line, field, `expected one of ${WORKLOAD_ENDPOINTS.join(', ')}, got ${show(value)}`)
  return undefined
}

// ---- CSV ----------------------------------------------------------------------------------

interface CsvRow { record: string[]; info: { lines: number } }

function parseCsvLog (text: string, forced: WorkloadLogFormat | null, problems: Problems): { format: WorkloadLogFormat; pending: Pending[] } {
  let rows: CsvRow[]
  try {
    rows = parseCsv(text, { info: true, relax_column_count: true, skip_empty_lines: true, trim: false, bom: true }) as unknown as CsvRow[]
  } catch (err) {
    const e = err as Error & { lines?: number }
    problems.add(e.lines ?? 0, null, `not valid CSV: ${e.message.replace(/^Invalid [^:]*: /, '')}`)
    return { format: forced ?? 'generic-csv', pending: [] }
  }
  const header = rows[0].record.map((h) => h.trim())
  const headerLine = rows[0].info.lines
  const lower = header.map((h) => h.toLowerCase())
  const looksAzure = lower.includes('contexttokens') || lower.includes('generatedtokens')
  const format: WorkloadLogFormat = forced ?? (looksAzure ? 'azure' : 'generic-csv')
  if (format === 'openai' || format === 'generic-jsonl') {
    problems.add(headerLine, null, `expected ${format === 'openai' ? 'OpenAI request log' : 'generic'} JSON Lines, but the file looks like CSV`)
    return { format, pending: [] }
  }
  if (format === 'azure') {
    if (lower.length !== 3 || lower.join(',') !== AZURE_COLUMNS.join(',').toLowerCase()) {
      problems.add(headerLine, null, `wrong columns for the Azure LLM trace: expected ${AZURE_COLUMNS.join(',')}, got ${header.join(',')}`)
      return { format, pending: [] }
    }
    return { format, pending: azureRows(rows.slice(1), problems) }
  }
  // Generic CSV: every column must be known, so a typo is an error rather than a silently ignored column.
  const unknown = header.filter((h) => !GENERIC_FIELDS.includes(h) && !CLASS_PREFIX.test(h))
  const dup = header.filter((h, i) => header.indexOf(h) !== i)
  if (unknown.length > 0) {
    problems.add(headerLine, null, `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')}: ` +
      `expected columns from ${GENERIC_FIELDS.join(', ')} or class_<name> (the generic schema, docs/workload.md), ` +
      `or exactly ${AZURE_COLUMNS.join(',')} (the Azure trace)`)
  }
  if (dup.length > 0) problems.add(headerLine, null, `duplicate column ${JSON.stringify(dup[0])}`)
  if (!header.includes('timestamp') && !header.includes('at_ms')) problems.add(headerLine, null, 'missing a time column: timestamp or at_ms')
  if (!header.includes('input_tokens') && !header.includes('prompt')) problems.add(headerLine, null, 'missing column input_tokens (or prompt, to count tokens)')
  if (!header.includes('output_tokens') && !header.includes('max_tokens')) problems.add(headerLine, null, 'missing column output_tokens (or max_tokens)')
  if (problems.list.length > 0) return { format, pending: [] }
  const pending: Pending[] = []
  for (const { record, info } of rows.slice(1)) {
    if (record.length !== header.length) {
      problems.add(info.lines, null, `expected ${header.length} fields (${header.join(',')}), got ${record.length}`)
      continue
    }
    const row: Row = { line: info.lines, textual: true, get: (n) => { const i = header.indexOf(n); return i < 0 ? undefined : record[i] }, keys: () => header }
    const p = genericRecord(row, problems)
    if (p !== null) pending.push(p)
  }
  return { format, pending }
}

function azureRows (rows: CsvRow[], problems: Problems): Pending[] {
  const pending: Pending[] = []
  for (const { record, info } of rows) {
    const line = info.lines
    if (record.length !== 3) {
      problems.add(line, null, `expected 3 fields (${AZURE_COLUMNS.join(',')}), got ${record.length}`)
      continue
    }
    const row: Row = { line, textual: true, get: (n) => record[AZURE_COLUMNS.indexOf(n)], keys: () => AZURE_COLUMNS }
    const t = parseTimestampText(record[0])
    if (t === null) problems.add(line, 'TIMESTAMP', `expected a time like 2023-11-16 18:15:46.6805900, got ${show(record[0])}`)
    const input = intField(row, 'ContextTokens', problems)
    const output = intField(row, 'GeneratedTokens', problems)
    if (!present(row, 'ContextTokens')) problems.add(line, 'ContextTokens', 'missing value')
    if (!present(row, 'GeneratedTokens')) problems.add(line, 'GeneratedTokens', 'missing value')
    if (t === null || input === undefined || output === undefined) continue
    pending.push({ time: { kind: 'absolute', t }, record: { line, inputTokens: input, outputTokens: output, classes: {} } })
  }
  return pending
}

// ---- generic records (CSV and JSONL) ------------------------------------------------------

function genericRecord (row: Row, problems: Problems): Pending | null {
  const before = problems.list.length
  const line = row.line
  let time: TimeValue | null = null
  const hasTs = present(row, 'timestamp')
  const hasRel = present(row, 'at_ms')
  if (hasTs && hasRel) problems.add(line, null, 'give either timestamp or at_ms, not both')
  else if (hasTs) {
    const t = parseTime(row.get('timestamp'), 'timestamp', line, problems)
    if (t !== null) time = { kind: 'absolute', t }
  } else if (hasRel) {
    const v = row.get('at_ms')
    const ms = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN
    if (!(Number.isFinite(ms) && ms >= 0)) problems.add(line, 'at_ms', `expected non-negative milliseconds, got ${show(v)}`)
    else time = { kind: 'relative', ms }
  } else {
    problems.add(line, 'timestamp', 'missing: every record needs timestamp or at_ms')
  }
  const endpoint = present(row, 'endpoint') ? endpointField(row.get('endpoint'), 'endpoint', line, problems) : undefined
  const model = stringField(row, 'model', problems)
  const stream = boolField(row, 'stream', problems)
  const prompt = stringField(row, 'prompt', problems)
  const maxTokens = intField(row, 'max_tokens', problems)
  let input = intField(row, 'input_tokens', problems)
  let output = intField(row, 'output_tokens', problems)
  let messages: Array<{ role: string; content: string }> | undefined
  if (!row.textual && present(row, 'messages')) messages = messagesField(row.get('messages'), 'messages', line, problems)
  if (input === undefined && !present(row, 'input_tokens')) {
    if (prompt !== undefined) input = countTokens(prompt)
    else if (messages !== undefined) input = countMessages(messages)
    else problems.add(line, 'input_tokens', 'missing: give input_tokens, or prompt (or messages) to count them')
  }
  if (output === undefined && !present(row, 'output_tokens')) {
    if (maxTokens !== undefined) output = maxTokens
    else if (endpoint === '/v1/embeddings' || endpoint === '/v1/moderations') output = 0
    else problems.add(line, 'output_tokens', 'missing: give output_tokens (or max_tokens)')
  }
  const { sessionId, turn, classes } = genericExtras(row, problems)
  if (problems.list.length > before || time === null || input === undefined || output === undefined) return null
  const record: Omit<WorkloadRecord, 'atMs'> = { line, inputTokens: input, outputTokens: output, classes }
  if (endpoint !== undefined) record.endpoint = endpoint
  if (model !== undefined) record.model = model
  if (stream !== undefined) record.stream = stream
  if (maxTokens !== undefined) record.maxTokens = maxTokens
  if (prompt !== undefined) record.prompt = prompt
  if (messages !== undefined) record.messages = messages
  if (sessionId !== undefined) record.sessionId = sessionId
  if (turn !== undefined) record.turn = turn
  return { time, record }
}

function contentText (content: unknown): string | null {
  if (typeof content === 'string') return content
  if (content === null) return ''
  if (Array.isArray(content)) {
    // Multi-part content: the text parts count; images and audio are not tokens of this tokenizer.
    let text = ''
    for (const part of content) {
      if (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string') text += (part as { text: string }).text
    }
    return text
  }
  return null
}

function messagesField (value: unknown, field: string, line: number, problems: Problems): Array<{ role: string; content: string }> | undefined {
  if (!Array.isArray(value)) {
    problems.add(line, field, `expected an array of {role, content}, got ${show(value)}`)
    return undefined
  }
  const out: Array<{ role: string; content: string }> = []
  for (let i = 0; i < value.length; i++) {
    const m = value[i] as { role?: unknown; content?: unknown } | null
    const content = typeof m === 'object' && m !== null ? contentText(m.content) : null
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || content === null) {
      problems.add(line, `${field}[${i}]`, `expected {role: string, content: string or parts}, got ${show(m)}`)
      return undefined
    }
    out.push({ role: m.role, content })
  }
  return out
}

/** Tokens of the messages' text (the server's chat template adds a few per message on top). */
function countMessages (messages: ReadonlyArray<{ content: string }>): number {
  let n = 0
  for (const m of messages) n += countTokens(m.content)
  return n
}

// ---- JSON Lines ---------------------------------------------------------------------------

function parseJsonl (text: string, forced: WorkloadLogFormat | null, problems: Problems): { format: WorkloadLogFormat; pending: Pending[] } {
  const lines = text.split(/\r?\n/)
  const objects: Array<{ line: number; value: Record<string, unknown>; openai: boolean }> = []
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim()
    if (raw === '') continue
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch (err) {
      problems.add(i + 1, null, `not valid JSON: ${(err as Error).message}`)
      continue
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.add(i + 1, null, `expected a JSON object, got ${show(value)}`)
      continue
    }
    const v = value as Record<string, unknown>
    const openai = isObject(v.request) || isObject(v.body)
    objects.push({ line: i + 1, value: v, openai })
  }
  let format: WorkloadLogFormat
  if (forced === 'openai' || forced === 'generic-jsonl') format = forced
  else if (forced !== null) {
    problems.add(1, null, `expected ${forced === 'azure' ? 'the Azure trace' : 'generic'} CSV, but the file looks like JSON Lines`)
    return { format: forced, pending: [] }
  } else {
    const firstOpenai = objects.find((o) => o.openai)
    const firstGeneric = objects.find((o) => !o.openai)
    if (firstOpenai !== undefined && firstGeneric !== undefined) {
      problems.add(Math.max(firstOpenai.line, firstGeneric.line), null,
        `mixed formats: line ${firstOpenai.line} is an OpenAI request log entry (it has a "request" object) but line ${firstGeneric.line} is a generic record; a log must use one format`)
      return { format: 'generic-jsonl', pending: [] }
    }
    format = firstOpenai !== undefined ? 'openai' : 'generic-jsonl'
  }
  const pending: Pending[] = []
  for (const o of objects) {
    if (format === 'openai' && !o.openai) {
      problems.add(o.line, 'request', 'missing: an OpenAI request log entry needs a "request" (or "body") object')
      continue
    }
    const p = format === 'openai' ? openaiRecord(o.value, o.line, problems) : genericRecord(jsonRow(o.value, o.line), problems)
    if (p !== null) pending.push(p)
  }
  return { format, pending }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function jsonRow (value: Record<string, unknown>, line: number): Row {
  return { line, textual: false, get: (n) => value[n], keys: () => Object.keys(value) }
}

/**
 * One OpenAI request log entry: {timestamp, endpoint, request: {model, messages | prompt | input,
 * max_tokens, stream}, response: {usage: {prompt_tokens, completion_tokens}}} plus the generic
 * schema's optional session and class fields at the top level.
 */
function openaiRecord (v: Record<string, unknown>, line: number, problems: Problems): Pending | null {
  const before = problems.list.length
  const req = (isObject(v.request) ? v.request : v.body) as Record<string, unknown>
  const reqName = isObject(v.request) ? 'request' : 'body'
  const top = jsonRow(v, line)
  let time: TimeValue | null = null
  const timeField = ['timestamp', 'time', 'created'].find((f) => v[f] !== undefined && v[f] !== null)
  if (timeField === undefined) {
    if (v.at_ms !== undefined) {
      const ms = v.at_ms
      if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) time = { kind: 'relative', ms }
      else problems.add(line, 'at_ms', `expected non-negative milliseconds, got ${show(ms)}`)
    } else problems.add(line, 'timestamp', 'missing: every entry needs timestamp (or time, created, at_ms)')
  } else {
    const t = parseTime(v[timeField], timeField, line, problems)
    if (t !== null) time = { kind: 'absolute', t }
  }
  const epValue = v.endpoint ?? v.url ?? v.path
  let endpoint: WorkloadEndpoint | undefined
  if (epValue !== undefined) endpoint = endpointField(epValue, v.endpoint !== undefined ? 'endpoint' : v.url !== undefined ? 'url' : 'path', line, problems)
  else if (req.messages !== undefined) endpoint = '/v1/chat/completions'
  else if (req.prompt !== undefined) endpoint = '/v1/completions'
  else if (req.input !== undefined) endpoint = '/v1/embeddings'
  else problems.add(line, 'endpoint', `missing, and ${reqName} has no messages, prompt or input to tell it by`)
  let model: string | undefined
  if (typeof req.model === 'string') model = req.model
  else if (req.model !== undefined) problems.add(line, `${reqName}.model`, `expected a string, got ${show(req.model)}`)
  let stream: boolean | undefined
  if (typeof req.stream === 'boolean') stream = req.stream
  else if (req.stream !== undefined && req.stream !== null) problems.add(line, `${reqName}.stream`, `expected true or false, got ${show(req.stream)}`)
  const maxRaw = req.max_tokens ?? req.max_completion_tokens
  let maxTokens: number | undefined
  if (maxRaw !== undefined && maxRaw !== null) {
    if (typeof maxRaw === 'number' && Number.isSafeInteger(maxRaw) && maxRaw >= 0) maxTokens = maxRaw
    else problems.add(line, `${reqName}.${req.max_tokens !== undefined ? 'max_tokens' : 'max_completion_tokens'}`, `expected a non-negative integer, got ${show(maxRaw)}`)
  }
  let messages: Array<{ role: string; content: string }> | undefined
  if (req.messages !== undefined) messages = messagesField(req.messages, `${reqName}.messages`, line, problems)
  let prompt: string | undefined
  let promptTokens: number | undefined
  for (const key of ['prompt', 'input'] as const) {
    const p = req[key]
    if (p === undefined) continue
    const parts = typeof p === 'string' ? [p] : Array.isArray(p) && p.every((x) => typeof x === 'string') ? p as string[] : null
    if (parts === null) problems.add(line, `${reqName}.${key}`, `expected a string or an array of strings, got ${show(p)}`)
    else {
      // A batch of inputs has no single text to replay; its token count still stands.
      if (parts.length === 1) prompt = parts[0]
      promptTokens = parts.reduce((s, x) => s + countTokens(x), 0)
    }
  }
  const usage = (isObject(v.response) && isObject(v.response.usage) ? v.response.usage : isObject(v.usage) ? v.usage : undefined) as Record<string, unknown> | undefined
  const usageName = isObject(v.response) && isObject(v.response.usage) ? 'response.usage' : 'usage'
  const usageInt = (name: string): number | undefined => {
    const x = usage?.[name]
    if (x === undefined || x === null) return undefined
    if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return x
    problems.add(line, `${usageName}.${name}`, `expected a non-negative integer, got ${show(x)}`)
    return undefined
  }
  let input = usageInt('prompt_tokens')
  let output = usageInt('completion_tokens')
  if (input === undefined) {
    if (messages !== undefined) input = countMessages(messages)
    else if (promptTokens !== undefined) input = promptTokens
  }
  if (output === undefined) {
    if (maxTokens !== undefined) output = maxTokens
    else if (endpoint === '/v1/embeddings' || endpoint === '/v1/moderations') output = 0
    else if (usage?.completion_tokens === undefined) problems.add(line, `${usageName}.completion_tokens`, `missing, and ${reqName}.max_tokens is not given either`)
  }
  const rest = genericExtras(top, problems)
  if (problems.list.length > before || time === null || input === undefined || output === undefined || endpoint === undefined) return null
  const record: Omit<WorkloadRecord, 'atMs'> = { line, endpoint, inputTokens: input, outputTokens: output, classes: rest.classes }
  if (model !== undefined) record.model = model
  if (stream !== undefined) record.stream = stream
  if (maxTokens !== undefined) record.maxTokens = maxTokens
  if (prompt !== undefined) record.prompt = prompt
  if (messages !== undefined) record.messages = messages
  if (rest.sessionId !== undefined) record.sessionId = rest.sessionId
  if (rest.turn !== undefined) record.turn = rest.turn
  return { time, record }
}

/** Session and class fields that OpenAI log entries may carry at the top level. */
function genericExtras (row: Row, problems: Problems): { sessionId?: string; turn?: number; classes: Record<string, string> } {
  const sessionId = stringField(row, 'session_id', problems)
  const turn = intField(row, 'turn', problems, 1)
  if (turn !== undefined && sessionId === undefined) problems.add(row.line, 'turn', 'a turn needs a session_id')
  const classes: Record<string, string> = {}
  for (const key of row.keys()) {
    const m = CLASS_PREFIX.exec(key)
    const name = CLASS_FIELDS.includes(key) ? key : m !== null ? m[1] : null
    if (name === null) continue
    const v = stringField(row, key, problems)
    if (v !== undefined) classes[name] = v
  }
  if (!row.textual && present(row, 'classes')) {
    const c = row.get('classes')
    if (!isObject(c)) problems.add(row.line, 'classes', `expected an object of strings, got ${show(c)}`)
    else {
      for (const [k, x] of Object.entries(c)) {
        if (typeof x === 'string') classes[k] = x
        else problems.add(row.line, `classes.${k}`, `expected a string, got ${show(x)}`)
      }
    }
  }
  const out: { sessionId?: string; turn?: number; classes: Record<string, string> } = { classes }
  if (sessionId !== undefined) out.sessionId = sessionId
  if (turn !== undefined) out.turn = turn
  return out
}
