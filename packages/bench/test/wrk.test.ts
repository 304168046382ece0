import { test } from 'node:test'
import assert from 'node:assert/strict'
import { luaString, parseBashTimes, parseWrkOutput, renderWrkScript } from '../src/index.ts'

const SAMPLE = `Running 10s test @ http://127.0.0.1:18181/v1/chat/completions
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   721.68us  603.42us   8.47ms   91.94%
    Req/Sec    66.02k    11.06k   80.76k    73.33%
  657263 requests in 10.00s, 111.30MB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 3, write 0, timeout 1
Requests/sec:  65697.42
Transfer/sec:     11.09MB
`

test('wrk\'s summary is read: requests, seconds, rate and every kind of error', () => {
  assert.deepEqual(parseWrkOutput(SAMPLE), { requests: 657263, seconds: 10, reqPerS: 65697.42, non2xx: 12, socketErrors: 4 })
  const clean = SAMPLE.replace(/.*Non-2xx.*\n/, '').replace(/.*Socket errors.*\n/, '').replace('in 10.00s', 'in 1.00m')
  assert.deepEqual(parseWrkOutput(clean), { requests: 657263, seconds: 60, reqPerS: 65697.42, non2xx: 0, socketErrors: 0 })
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused'), /no request summary/)
})

test('Lua strings keep every byte: quotes, backslashes, newlines and UTF-8 become 3-digit decimal escapes', () => {
  assert.equal(luaString('a"b\\c'), '"a\\034b\\092c"')
  // Always 3 digits, so a following digit stays out of the escape (unpadded, "\n1" would read as \101, an "e").
  assert.equal(luaString('\n1'), '"\\0101"')
  assert.equal(luaString('é'), '"\\195\\169"')
  const script = renderWrkScript('{"x":1}', { 'content-type': 'application/json' })
  assert.match(script, /^wrk\.method = "POST"$/m)
  assert.match(script, /^wrk\.body = "\{\\034x\\034:1\}"$/m)
  assert.match(script, /^wrk\.headers\["content-type"\] = "application\/json"$/m)
})

test('bash `times` output gives the children\'s CPU time', () => {
  assert.equal(parseBashTimes('0m0.004s 0m0.002s\n0m1.250s 0m0.750s\n'), 2000)
  assert.equal(parseBashTimes('some wrk error\n0m0.004s 0m0.002s\n1m0.000s 0m0.500s\n'), 60_500)
  assert.equal(parseBashTimes('no times here'), null)
})
