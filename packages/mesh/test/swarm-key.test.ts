import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { preSharedKey } from '@libp2p/pnet'
import { generateSwarmKey, parseSwarmKey, readSwarmKey, writeSwarmKey, SwarmKeyError } from '../src/index.ts'

const HEX = 'dffb7e3135399a8b1612b2aaca1c36a3a8ac2cd0cca51ceeb2ced87d308cac6d'
const KEY = `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}`

test('a generated key is in the go-ipfs / @libp2p/pnet format, random, and accepted by pnet', () => {
  const a = generateSwarmKey()
  const b = generateSwarmKey()
  assert.match(a, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
  assert.notEqual(a, b)
  assert.equal(parseSwarmKey(a), a)
  // pnet decodes the key when the protector is built; a bad key throws there
  assert.doesNotThrow(() => preSharedKey({ psk: new TextEncoder().encode(a) })())
})

test('keys written by other tools (CRLF, trailing newline, upper-case hex, BOM) normalise to one canonical form', () => {
  assert.equal(parseSwarmKey(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX.toUpperCase()}\r\n`), KEY)
  assert.equal(parseSwarmKey(`\uFEFF${KEY}\n\n`), KEY)
  assert.equal(parseSwarmKey(`  /key/swarm/psk/1.0.0/  \n/base16/\n${HEX}  `), KEY)
})

test('wrong formats are refused with the source and the bad part named, never echoing the key', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    [`/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`, /line 1 .*expected "\/key\/swarm\/psk\/1\.0\.0\/"/],
    ['/key/swarm/psk/1.0.0/\n/base16/', /has 2 line\(s\)/],
    [`/key/swarm/psk/1.0.0/\n/base64/\n${HEX}`, /line 2 is "\/base64\/".*only base16/],
    [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}`, /line 3 must be 64 hex digits .*got 62 hex digits/],
    [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(1)}z`, /not all hex digits/],
    [`${KEY}\nextra`, /unexpected content after line 3/]
  ]
  for (const [input, re] of cases) {
    assert.throws(() => parseSwarmKey(input, 'key.txt'), (err: unknown) => {
      assert.ok(err instanceof SwarmKeyError)
      assert.equal(err.code, 'ERR_BAD_SWARM_KEY')
      assert.match(err.message, /^key\.txt: /)
      assert.match(err.message, re)
      assert.ok(!err.message.includes(HEX.slice(4, 40)), 'key material must not appear in errors')
      return true
    }, JSON.stringify(input))
  }
})

test('readSwarmKey names the file when it is missing or malformed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-swarm-'))
  const missing = join(dir, 'nope.key')
  await assert.rejects(readSwarmKey(missing), (err: unknown) => {
    assert.ok(err instanceof SwarmKeyError)
    assert.match(err.message, new RegExp(`swarm key file ${missing} does not exist`))
    return true
  })
  const bad = join(dir, 'bad.key')
  await writeFile(bad, 'hello\n')
  await assert.rejects(readSwarmKey(bad), new RegExp(`swarm key file ${bad}: line 1 is "hello"`))
  const good = join(dir, 'good.key')
  await writeFile(good, `${KEY}\n`)
  assert.equal(await readSwarmKey(good), KEY)
})

test('writeSwarmKey creates an owner-only file that reads back, and never overwrites one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-swarm-'))
  const path = join(dir, 'swarm.key')
  const key = generateSwarmKey()
  await writeSwarmKey(path, key)
  assert.equal((await stat(path)).mode & 0o777, 0o600)
  assert.equal(await readSwarmKey(path), key)
  await assert.rejects(writeSwarmKey(path, generateSwarmKey()), /already exists; refusing to overwrite/)
  assert.equal((await readFile(path, 'utf8')).trim(), key)
})
