import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BenchError, parseBenchArgs, SUITE_NAMES } from '../src/index.ts'

test('no flags run every suite at full length', () => {
  assert.deepEqual(parseBenchArgs([]), { quick: false, suites: [...SUITE_NAMES], partial: false, profile: false, help: false })
})

test('pnpm\'s "--" is ignored, --quick and --only combine, suites keep their canonical order', () => {
  const a = parseBenchArgs(['--', '--quick', '--only', 'schedule-lag,req-per-s'])
  assert.equal(a.quick, true)
  assert.deepEqual(a.suites, ['req-per-s', 'schedule-lag'])
  assert.equal(a.partial, true)
  assert.deepEqual(parseBenchArgs(['--only=sse']).suites, ['sse'])
})

test('an unknown suite or flag is refused with the valid names', () => {
  assert.throws(() => parseBenchArgs(['--only', 'bogus']), (e: Error) => e instanceof BenchError && /unknown suite "bogus".*req-per-s/.test(e.message))
  assert.throws(() => parseBenchArgs(['--only']), /needs a suite name/)
  assert.throws(() => parseBenchArgs(['--fast']), /unknown argument "--fast"/)
})
