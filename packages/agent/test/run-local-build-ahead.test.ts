import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { systemClock } from '@loadmesh/clock'
import { createRng } from '@loadmesh/workload'
import { createRequestSource, loadWorkload, runLocal } from '../src/index.ts'
import { runConfigFromFlags } from '../../cli/src/run-config-from-flags.ts'

const COMPLETION = JSON.stringify({
  id: 'x', object: 'chat.completion', created: 0, model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
})

/** A loopback target that keeps every chat prompt it receives, in arrival order. */
async function recordingTarget(): Promise<{ url: string; prompts: string[]; close: () => Promise<void> }> {
  const prompts: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (d: string) => { body += d }).on('end', () => {
      if (req.method === 'POST') prompts.push((JSON.parse(body) as { messages: Array<{ content: string }> }).messages[0].content)
      res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'POST' ? COMPLETION : '{"object":"list","data":[]}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    prompts,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

// Requests are built ahead of their due times (in the slack after a send): the run must still send
// exactly the first N requests of its seed's stream, none skipped and none twice.
test('an open-loop run sends exactly its seed\'s first N requests, each once, while building each one ahead', async () => {
  const target = await recordingTarget()
  try {
    const config = runConfigFromFlags({
      rate: '200', arrival: 'constant', duration: '400ms', stream: false,
      'input-tokens': 'uniform:min=5,max=60', 'output-tokens': 'fixed:4', seed: '7', 'max-error-rate': '1'
    }, target.url, 'm')
    const report = await runLocal(config, { clock: systemClock(), warmupConnections: 0 })
    assert.equal(report.requests.dropped, 0)
    assert.equal(report.requests.sent, 80, 'constant 200 req/s for 0.4 s')
    assert.equal(target.prompts.length, report.requests.sent)
    const expected = createRequestSource(config, createRng(config.seed), await loadWorkload(config))
    const want = Array.from({ length: target.prompts.length }, () => expected.next().spec.prompt)
    // The server sees requests in the order their connections deliver them, so compare positions
    // in the seed's stream, not arrival order.
    const index = new Map(want.map((p, i) => [p, i]))
    const got = target.prompts.map((p) => index.get(p))
    assert.ok(got.every((i) => i !== undefined), 'every prompt sent is one of the seed\'s first N')
    assert.deepEqual([...got].sort((a, b) => (a as number) - (b as number)), want.map((_, i) => i), 'each of the first N sent exactly once')
  } finally {
    await target.close()
  }
})
