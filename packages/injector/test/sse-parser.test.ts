import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createSseParser, SseProtocolError } from '../src/index.ts'
import type { SseEvent, SseParserOptions } from '../src/index.ts'

const enc = new TextEncoder()

function parseChunks(chunks: Uint8Array[], opts?: SseParserOptions): { events: SseEvent[]; incomplete: boolean } {
  const events: SseEvent[] = []
  const p = createSseParser((e) => events.push(e), opts)
  for (const c of chunks) p.push(c)
  const incomplete = p.end()
  return { events, incomplete }
}

function parse(text: string | Uint8Array, opts?: SseParserOptions): SseEvent[] {
  return parseChunks([typeof text === 'string' ? enc.encode(text) : text], opts).events
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

const ev = (data: string, event = 'message', id?: string): SseEvent => ({ event, data, id })

test('LF, CR and CRLF line ends all end lines, and may be mixed', () => {
  assert.deepEqual(parse('data: a\n\ndata: b\r\rdata: c\r\n\r\ndata: d\r\n\n'), [ev('a'), ev('b'), ev('c'), ev('d')])
})

test('a CR at the end of one read and an LF at the start of the next are one line end', () => {
  const events = parseChunks([enc.encode('data: a\r'), enc.encode('\ndata: b\r'), enc.encode('\n\r\n')]).events
  // Had the CR/LF pair counted twice, "data: a" would have been dispatched alone as its own event.
  assert.deepEqual(events, [ev('a\nb')])
})

test('multi-line data is joined with LF; an empty data line still dispatches', () => {
  assert.deepEqual(parse('data: one\ndata:two\ndata\n\ndata:\n\n'), [ev('one\ntwo\n'), ev('')])
})

test('only one space after the colon is removed; a field without a colon has an empty value', () => {
  assert.deepEqual(parse('data:  two spaces\nevent\n\n'), [ev(' two spaces')])
  assert.deepEqual(parse('event:  x\ndata: y\n\n'), [ev('y', ' x')])
})

test('comments are ignored, also between data lines', () => {
  assert.deepEqual(parse(': keep-alive\n\ndata: a\n:comment\ndata: b\n\n'), [ev('a\nb')])
})

test('event names and ids: event resets per event, id persists, id with NUL is ignored', () => {
  const events = parse('event: delta\nid: 7\ndata: a\n\ndata: b\n\nid: 8\u0000\ndata: c\n\nid\ndata: d\n\n')
  assert.deepEqual(events, [ev('a', 'delta', '7'), ev('b', 'message', '7'), ev('c', 'message', '7'), ev('d')])
})

test('blank line without data dispatches nothing but resets the event type', () => {
  assert.deepEqual(parse('event: x\n\ndata: y\n\n'), [ev('y')])
})

test('a leading BOM is skipped, even split across reads; a later BOM is kept', () => {
  const bytes = enc.encode('\uFEFFdata: a\n\n\uFEFFdata: b\n\n')
  for (let cut = 0; cut <= 4; cut++) {
    const { events } = parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)])
    // The second BOM makes the field name "\uFEFFdata", which is unknown and ignored.
    assert.deepEqual(events, [ev('a')], `cut at ${cut}`)
  }
})

test('a UTF-8 character split across reads decodes intact', () => {
  const bytes = enc.encode('data: h€llo 😀\n\n')
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { events } = parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)])
    assert.deepEqual(events, [ev('h€llo 😀')], `cut at ${cut}`)
  }
})

test('invalid UTF-8 becomes U+FFFD instead of failing', () => {
  assert.deepEqual(parse(new Uint8Array([...enc.encode('data: a'), 0xff, ...enc.encode('b\n\n')])), [ev('a\uFFFDb')])
})

test('end() reports a stream that stopped mid-event and drops that event', () => {
  assert.deepEqual(parseChunks([enc.encode('data: a\n\ndata: b\n')]), { events: [ev('a')], incomplete: true })
  assert.deepEqual(parseChunks([enc.encode('data: a\n\ndata: [DO')]), { events: [ev('a')], incomplete: true })
  assert.deepEqual(parseChunks([enc.encode('data: a\n\n: bye\n')]), { events: [ev('a')], incomplete: false })
})

test('retry with digits only is reported; other values are ignored', () => {
  const retries: number[] = []
  const p = createSseParser(() => {}, { onRetry: (ms) => retries.push(ms) })
  p.push(enc.encode('retry: 1500\nretry: 1x\nretry:\n\n'))
  assert.deepEqual(retries, [1500])
})

test('unknown fields are ignored by default but are a protocol error in strict mode', () => {
  assert.deepEqual(parse('foo: bar\ndata: a\n\n'), [ev('a')])
  const events: SseEvent[] = []
  const p = createSseParser((e) => events.push(e), { strict: true })
  p.push(enc.encode('data: a\n\n'))
  assert.throws(() => p.push(enc.encode('bogus: 1\n')), (err: unknown) => {
    assert.ok(err instanceof SseProtocolError)
    assert.equal(err.code, 'ERR_SSE_PROTOCOL')
    assert.match(err.message, /"bogus"/)
    return true
  })
  // A failed stream yields nothing more.
  p.push(enc.encode('data: b\n\n'))
  assert.deepEqual(events, [ev('a')])
})

test('strict mode accepts every standard field', () => {
  assert.deepEqual(parse('event: e\nid: 1\nretry: 10\n: c\ndata: x\n\n', { strict: true }), [ev('x', 'e', '1')])
})

// ---- property: any split of any valid stream gives the events that were encoded ----

const text = (min = 0): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof(fc.constantFrom('a', ' ', ':', 'é', '€', '😀', '\u0000', '\uFEFF'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), minLength: min, maxLength: 12 })
    .map((s) => s.toWellFormed().replace(/[\r\n]/g, '_'))

interface GenEvent { event?: string; id?: string; data: string[]; comment?: string }

const genEvent: fc.Arbitrary<GenEvent> = fc.record({
  event: fc.option(text(1).filter((s) => s !== ''), { nil: undefined }),
  id: fc.option(text().map((s) => s.replace(/\u0000/g, '')), { nil: undefined }),
  data: fc.array(text(), { minLength: 1, maxLength: 3 }),
  comment: fc.option(text(), { nil: undefined })
}, { requiredKeys: ['data'] })

const lineEnd = fc.constantFrom('\n', '\r', '\r\n')

function encodeStream(events: GenEvent[], ends: string[], bom: boolean, spaceAfterColon: boolean[]): string {
  const lines: string[] = []
  for (const e of events) {
    if (e.comment !== undefined) lines.push(`:${e.comment}`)
    if (e.event !== undefined) lines.push(`event: ${e.event}`)
    if (e.id !== undefined) lines.push(`id: ${e.id}`)
    e.data.forEach((d, i) => { lines.push(spaceAfterColon[i % spaceAfterColon.length] && !d.startsWith(' ') ? `data:${d}` : `data: ${d}`) })
    lines.push('')
  }
  let out = bom ? '\uFEFF' : ''
  let prevEnd = ''
  lines.forEach((l, i) => {
    let end = ends[i % ends.length]
    // After a bare CR, an empty line ended by LF would read as one CRLF: not what was meant.
    if (prevEnd === '\r' && l === '' && end === '\n') end = '\r\n'
    out += l + end
    prevEnd = end
  })
  return out
}

function expected(events: GenEvent[]): SseEvent[] {
  let lastId = ''
  return events.map((e) => {
    if (e.id !== undefined) lastId = e.id
    return ev(e.data.join('\n'), e.event ?? 'message', lastId === '' ? undefined : lastId)
  })
}

test('property: any split of the byte stream yields the encoded events, same as one push', () => {
  fc.assert(fc.property(
    fc.array(genEvent, { maxLength: 8 }),
    fc.array(lineEnd, { minLength: 1, maxLength: 5 }),
    fc.boolean(),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
    fc.array(fc.nat(), { maxLength: 20 }),
    (events, ends, bom, spaces, cuts) => {
      const bytes = enc.encode(encodeStream(events, ends, bom, spaces))
      const whole = parseChunks([bytes])
      const split = parseChunks(splitAt(bytes, cuts))
      assert.deepEqual(split, whole)
      assert.deepEqual(whole.events, expected(events))
      assert.equal(whole.incomplete, bom && events.length === 0) // a lone BOM is an unterminated line
    }
  ), { seed: 20240601, numRuns: 600 })
})

test('property: byte-at-a-time feeding equals one push', () => {
  fc.assert(fc.property(
    fc.array(genEvent, { maxLength: 4 }),
    fc.array(lineEnd, { minLength: 1, maxLength: 3 }),
    fc.boolean(),
    (events, ends, bom) => {
      const bytes = enc.encode(encodeStream(events, ends, bom, [false]))
      const single = [...bytes].map((b) => new Uint8Array([b]))
      assert.deepEqual(parseChunks(single), parseChunks([bytes]))
    }
  ), { seed: 7, numRuns: 200 })
})
