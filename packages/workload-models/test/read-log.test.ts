import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { countTokens } from '@loadmesh/workload'
import { parseWorkloadLog, readWorkloadLog, LogFormatError } from '../src/index.ts'

function problemsOf (text: string, source = 'log', opts = {}): LogFormatError {
  try {
    parseWorkloadLog(text, source, opts)
  } catch (err) {
    assert.ok(err instanceof LogFormatError, `expected LogFormatError, got ${String(err)}`)
    assert.equal(err.code, 'ERR_BAD_LOG')
    assert.equal(err.name, 'LogFormatError')
    return err
  }
  assert.fail('the log was accepted')
}

const AZURE = 'TIMESTAMP,ContextTokens,GeneratedTokens\n'

test('Azure trace: negative token counts and bad values are reported with line and field', () => {
  const e = problemsOf(AZURE + '2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.1,-3,12\n2023-11-16 18:15:48,12,abc\n', 'trace.csv')
  assert.equal(e.file, 'trace.csv')
  assert.equal(e.line, 3)
  assert.deepEqual(e.problems.map((p) => [p.line, p.field]), [[3, 'ContextTokens'], [4, 'GeneratedTokens']])
  assert.match(e.message, /trace\.csv:3: ContextTokens: expected a non-negative integer, got "-3"/)
  assert.match(e.message, /trace\.csv:4: GeneratedTokens: expected a non-negative integer, got "abc"/)
})

test('unsorted timestamps are refused, naming both lines', () => {
  const e = problemsOf(AZURE + '2023-11-16 18:15:46.5,1,1\n2023-11-16 18:15:47.0,1,1\n2023-11-16 18:15:46.9,1,1\n', 'trace.csv')
  assert.equal(e.problems.length, 1)
  assert.equal(e.line, 4)
  assert.match(e.message, /trace\.csv:4: TIMESTAMP|trace\.csv:4: timestamp/)
  assert.match(e.message, /100\.000 ms earlier than line 3's \(sort the log by time\)/)
})

test('wrong columns: the Azure header with a column missing, and an unknown generic column', () => {
  assert.match(problemsOf('TIMESTAMP,ContextTokens\n2023-11-16 18:15:46,1\n', 'a.csv').message,
    /a\.csv:1: wrong columns for the Azure LLM trace: expected TIMESTAMP,ContextTokens,GeneratedTokens, got TIMESTAMP,ContextTokens/)
  const e = problemsOf('timestamp,input_tokns,output_tokens\n2024-01-01T00:00:00Z,1,2\n', 'g.csv')
  assert.match(e.message, /g\.csv:1: unknown column "input_tokns": expected columns from timestamp, at_ms/)
  assert.match(e.message, /missing column input_tokens/)
  assert.match(problemsOf(AZURE + '2023-11-16 18:15:46,1,2,3\n').message, /log:2: expected 3 fields \(TIMESTAMP,ContextTokens,GeneratedTokens\), got 4/)
})

test('mixed formats in one JSONL file are refused', () => {
  const e = problemsOf('{"at_ms":0,"input_tokens":1,"output_tokens":2}\n{"at_ms":1,"request":{"messages":[]},"usage":{"completion_tokens":3}}\n', 'mix.jsonl')
  assert.match(e.message, /mix\.jsonl:2: mixed formats: line 2 is an OpenAI request log entry .* but line 1 is a generic record/)
  // Mixed kinds of time are an error too.
  assert.match(problemsOf('{"at_ms":0,"input_tokens":1,"output_tokens":2}\n{"timestamp":5,"input_tokens":1,"output_tokens":2}\n').message,
    /log:2: timestamp: line 1 gives at_ms; every record must use the same kind of time/)
  // CSV where JSON Lines were asked for.
  assert.match(problemsOf(AZURE, 'x.csv', { format: 'openai' }).message, /expected OpenAI request log JSON Lines, but the file looks like CSV/)
})

test('problems are collected up to the limit, then one error lists them', () => {
  const rows = Array.from({ length: 50 }, (_, i) => `2023-11-16 18:15:${String(10 + i).padStart(2, '0')},-1,1`).join('\n')
  const e = problemsOf(AZURE + rows, 'many.csv', { maxProblems: 5 })
  assert.equal(e.problems.length, 5)
  assert.deepEqual(e.problems.map((p) => p.line), [2, 3, 4, 5, 6])
  assert.match(e.message.split('\n')[0], /^many\.csv: 5\+ problems \(stopped counting\)$/)
})

test('empty logs, non-JSON lines and JSON arrays get clear errors', () => {
  assert.match(problemsOf('', 'e.csv').message, /e\.csv: the log is empty/)
  assert.match(problemsOf(AZURE, 'h.csv').message, /h\.csv: the log has no records/)
  assert.match(problemsOf('{"at_ms":0,"input_tokens":1,"output_tokens":2}\n{oops\n', 'j.jsonl').message, /j\.jsonl:2: not valid JSON/)
  assert.match(problemsOf('[{"at_ms":0}]', 'arr.json').message, /expected JSON Lines/)
  assert.match(problemsOf('{"at_ms":0,"output_tokens":2}\n').message, /log:1: input_tokens: missing: give input_tokens, or prompt \(or messages\)/)
  assert.match(problemsOf('{"at_ms":0,"input_tokens":1,"output_tokens":2,"endpoint":"/v1/images"}\n').message, /endpoint: expected one of \/v1\/chat\/completions, .*got "\/v1\/images"/)
  assert.match(problemsOf('{"timestamp":"2024-02-30T00:00:00Z","input_tokens":1,"output_tokens":2}\n').message, /timestamp: expected an ISO-8601 time/)
})

test('a file that does not exist: LogFormatError naming the path', async () => {
  await assert.rejects(readWorkloadLog('/nonexistent/requests.csv'), { code: 'ERR_BAD_LOG', message: '/nonexistent/requests.csv: no such file' })
})

test('OpenAI request logs: usage when logged, else tokens counted with the workload tokenizer; max_tokens as output', () => {
  const lines = [
    { timestamp: '2024-05-01T12:00:00.000Z', endpoint: '/v1/chat/completions', request: { model: 'gpt-x', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Name three rivers in Europe.' }], max_tokens: 64, stream: true }, session_id: 'c1', turn: 1, region: 'eu', intent: 'qa' },
    { timestamp: '2024-05-01T12:00:02.500Z', url: 'http://127.0.0.1:8000/v1/completions', request: { prompt: 'Once upon a time', max_tokens: 20 }, response: { usage: { prompt_tokens: 5, completion_tokens: 17 } } },
    { timestamp: '2024-05-01T12:00:03Z', request: { input: 'embed me' } }
  ]
  const log = parseWorkloadLog(lines.map((l) => JSON.stringify(l)).join('\n'), 'openai.jsonl')
  assert.equal(log.format, 'openai')
  assert.equal(log.startedAt, '2024-05-01T12:00:00.000Z')
  const [a, b, c] = log.records
  assert.equal(a.inputTokens, countTokens('You are terse.') + countTokens('Name three rivers in Europe.'))
  assert.equal(a.outputTokens, 64)
  assert.equal(a.maxTokens, 64)
  assert.equal(a.stream, true)
  assert.equal(a.model, 'gpt-x')
  assert.equal(a.endpoint, '/v1/chat/completions')
  assert.deepEqual(a.messages?.[1], { role: 'user', content: 'Name three rivers in Europe.' })
  assert.deepEqual([a.sessionId, a.turn, a.classes], ['c1', 1, { region: 'eu', intent: 'qa' }])
  assert.deepEqual([b.atMs, b.endpoint, b.inputTokens, b.outputTokens, b.prompt], [2500, '/v1/completions', 5, 17, 'Once upon a time'])
  assert.deepEqual([c.atMs, c.endpoint, c.inputTokens, c.outputTokens], [3000, '/v1/embeddings', countTokens('embed me'), 0])
  const e = problemsOf(JSON.stringify({ timestamp: 1, request: { messages: [{ role: 'user', content: 'hi' }] } }), 'o.jsonl')
  assert.match(e.message, /o\.jsonl:1: usage\.completion_tokens: missing, and request\.max_tokens is not given either/)
})

test('generic CSV: optional fields, class columns, sessions; prompt text counted when no input_tokens', () => {
  const csv = [
    'timestamp,endpoint,stream,input_tokens,output_tokens,session_id,turn,region,client_type,intent,class_tier,prompt',
    '2024-05-01 12:00:00.25,/v1/chat/completions,true,100,20,s1,1,eu,mobile,chat,gold,',
    '2024-05-01 12:00:01.75,chat/completions,false,,30,s1,2,eu,mobile,chat,gold,"Hello, world: a prompt with a comma"'
  ].join('\n')
  const log = parseWorkloadLog(csv, 'g.csv')
  assert.equal(log.format, 'generic-csv')
  const [a, b] = log.records
  assert.deepEqual({ ...a }, {
    atMs: 0, line: 2, endpoint: '/v1/chat/completions', stream: true, inputTokens: 100, outputTokens: 20,
    sessionId: 's1', turn: 1, classes: { region: 'eu', client_type: 'mobile', intent: 'chat', tier: 'gold' }
  })
  assert.equal(b.atMs, 1500)
  assert.equal(b.endpoint, '/v1/chat/completions')
  assert.equal(b.inputTokens, countTokens('Hello, world: a prompt with a comma'))
  assert.equal(b.prompt, 'Hello, world: a prompt with a comma')
  assert.match(problemsOf('at_ms,input_tokens,output_tokens,turn\n0,1,1,0\n').message, /log:2: turn: expected a positive integer, got "0"/)
})

test('readWorkloadLog reads a file; a forced format is honoured', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wm-'))
  try {
    const path = join(dir, 'r.jsonl')
    writeFileSync(path, '{"at_ms":0,"input_tokens":1,"output_tokens":2}\n\n{"at_ms":5.5,"input_tokens":3,"output_tokens":4}\n')
    const log = await readWorkloadLog(path, { format: 'generic-jsonl' })
    assert.deepEqual(log.records.map((r) => [r.line, r.atMs, r.inputTokens]), [[1, 0, 1], [3, 5.5, 3]])
    assert.equal(log.startedAt, null)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
