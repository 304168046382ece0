import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parsePlanText } from '../packages/cli/src/plan-file.ts'
import { REHEARSE_FLAGS, RUN_FLAGS, SIM_ENGINE_FLAGS } from '../packages/cli/src/options.ts'

const REHEARSE = [...REHEARSE_FLAGS, ...SIM_ENGINE_FLAGS, ...RUN_FLAGS.filter((f) => f.name !== 'target')]

test('a plan\'s simulator section takes every simulator flag, booleans as true/false, with the line of a bad one', () => {
  const plan = parsePlanText([
    'rate: 5',
    'simulator:',
    '  profile: h100-llama3.1-8b-fp8',
    '  replicas: 2',
    '  tokens-per-chunk: 4',
    '  prefix-caching: true',
    ''
  ].join('\n'), '/plans/p.yaml', REHEARSE)
  assert.deepEqual(plan, { rate: '5', profile: 'h100-llama3.1-8b-fp8', replicas: '2', 'tokens-per-chunk': '4', 'prefix-caching': true })

  assert.throws(() => parsePlanText('simulator:\n  prefix-caching: yes please\n', '/plans/p.yaml', REHEARSE),
    /p\.yaml:2.*"simulator\.prefix-caching" must be true or false/)
  assert.throws(() => parsePlanText('simulator:\n  tokens-per-chunks: 4\n', '/plans/p.yaml', REHEARSE),
    (e: Error & { hint?: string }) => /unknown simulator setting "tokens-per-chunks"/.test(e.message))
})
