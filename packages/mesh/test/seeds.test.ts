import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseSeeds, SeedError } from '../src/index.ts'

const PEER = '12D3KooWGYaj2ryg8V2B5bNQVEB87XiZyj23V4ZL8YoMb8CKsBmQ'
const strs = (text: string | string[]): string[] => parseSeeds(text).map(String)

test('host:port seeds become dialable multiaddrs without a peer id', () => {
  assert.deepEqual(strs('loadmesh-0.loadmesh.default.svc:4001,10.1.2.3:4001, [::1]:4002 [fe80::1]:7'), [
    '/dns4/loadmesh-0.loadmesh.default.svc/tcp/4001',
    '/ip4/10.1.2.3/tcp/4001',
    '/ip6/::1/tcp/4002',
    '/ip6/fe80::1/tcp/7'
  ])
  assert.deepEqual(strs('localhost:1'), ['/dns4/localhost/tcp/1'])
})

test('full multiaddrs pass through, with or without /p2p/', () => {
  assert.deepEqual(strs([`/ip4/1.2.3.4/tcp/4001/p2p/${PEER}`, '/dns4/seed.example/tcp/4001', '/dnsaddr/bootstrap.example']), [
    `/ip4/1.2.3.4/tcp/4001/p2p/${PEER}`,
    '/dns4/seed.example/tcp/4001',
    '/dnsaddr/bootstrap.example'
  ])
})

test('empty entries are ignored and duplicates removed', () => {
  assert.deepEqual(strs(''), [])
  assert.deepEqual(strs(' , ,'), [])
  assert.deepEqual(strs('a:1,,a:1, b:2,'), ['/dns4/a/tcp/1', '/dns4/b/tcp/2'])
})

test('bad seeds are refused naming the entry and its position', () => {
  const cases: Array<[string, RegExp]> = [
    ['good:1,nohost', /seed 2 of 2 \("nohost"\): missing port/],
    ['a:', /seed 1 of 1 \("a:"\): port "" is not a number/],
    ['a:http', /port "http" is not a number/],
    ['a:0', /port 0 is outside 1-65535/],
    ['a:70000', /port 70000 is outside 1-65535/],
    ['::1:4001', /IPv6 addresses need brackets, e.g. \[::1\]:4001/],
    ['[1.2.3.4]:5', /inside \[...\] is not an IPv6 address/],
    ['300.1.2.3:5', /"300.1.2.3" is not a valid IPv4 address/],
    ['bad_host!:5', /"bad_host!" is not a valid host name/],
    ['/ip4/1.2.3.4/udp/4001/quic-v1', /must be a TCP address/],
    ['/ip4/1.2.3.4/tcp/4001/ws', /only \/p2p\/<peer id> may follow/],
    [`/tcp/1/p2p/${PEER}`, /must start with \/ip4, \/ip6/],
    ['/ip4/1.2.3.4/tcp/99999', /not a valid multiaddr|outside 1-65535/],
    ['/ip4/nonsense', /not a valid multiaddr/]
  ]
  for (const [input, re] of cases) {
    assert.throws(() => parseSeeds(input), (err: unknown) => {
      assert.ok(err instanceof SeedError, `${input}: ${String(err)}`)
      assert.equal(err.code, 'ERR_BAD_SEED')
      assert.match(err.message, re)
      return true
    }, input)
  }
})

test('any IPv4 host:port round-trips to /ip4/<host>/tcp/<port>', () => {
  fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
    assert.deepEqual(strs(`${ip}:${port}`), [`/ip4/${ip}/tcp/${port}`])
  }), { seed: 42, numRuns: 200 })
})
