// A minimal OpenAI-ish server for benchmarks: answers at once, streamed (16 content chunks plus a
// usage chunk and [DONE], in one write) or as one JSON body. Run as a child process so its CPU
// time is not charged to the client. Prints its port on stdout.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const chunk = (c: string): string => `data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${c}"},"finish_reason":null}]}\n\n`
const streamBody = Array.from({ length: 16 }, (_, i) => chunk(` tok${i}`)).join('') +
  'data: {"id":"x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":16}}\n\n' + 'data: [DONE]\n\n'
const jsonBody = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'hello world' }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 2 } })

const server = createServer((req, res) => {
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (d: string) => { body += d })
  req.on('end', () => {
    if (body.includes('"stream":true')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(streamBody)
    } else {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(jsonBody)
    }
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`)
})
let conns = 0
server.on('connection', () => { conns++ })
process.on('message', (m) => {
  if (m === 'conns') { process.send?.(conns); return }
  server.close()
  process.exit(0)
})
