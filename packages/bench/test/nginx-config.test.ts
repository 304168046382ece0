import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '@loadmesh/clock'
import { createInjector } from '@loadmesh/injector'
import { BenchError, CHAT_COMPLETION_JSON, createProcessRegistry, nginxQuote, renderNginxConfig } from '../src/index.ts'
import { startNginx } from '../src/nginx-target.ts'
import { detectTools } from '../src/tools.ts'

const tools = detectTools()

test('the nginx config listens on loopback at the port, answers the chat path with the body, and logs nothing', () => {
  const conf = renderNginxConfig({ prefix: '/tmp/x/', port: 41234, body: CHAT_COMPLETION_JSON, path: '/v1/chat/completions' })
  assert.match(conf, /listen 127\.0\.0\.1:41234;/)
  assert.match(conf, /location = \/v1\/chat\/completions \{/)
  assert.match(conf, /default_type application\/json;/)
  assert.ok(conf.includes(`return 200 '${CHAT_COMPLETION_JSON}';`))
  assert.match(conf, /access_log off;/)
  assert.match(conf, /worker_processes 1;/)
  assert.match(conf, /pid \/tmp\/x\/nginx\.pid;/, 'everything nginx writes stays under the prefix')
  assert.doesNotMatch(conf, /\/var\//)
})

test('nginx strings escape quotes and backslashes and refuse what nginx would reinterpret', () => {
  assert.equal(nginxQuote(`it's a \\ test`), `'it\\'s a \\\\ test'`)
  assert.throws(() => nginxQuote('costs $5'), (e: Error) => e instanceof BenchError && e.code === 'ERR_BAD_NGINX_CONFIG')
  assert.throws(() => nginxQuote('a\nb'), BenchError)
  assert.throws(() => renderNginxConfig({ prefix: '/tmp/a b', port: 1, body: '{}', path: '/' }), /prefix/)
  assert.throws(() => renderNginxConfig({ prefix: '/tmp', port: 70000, body: '{}', path: '/' }), /port/)
})

test('nginx accepts the rendered config (nginx -t)', { skip: tools.nginx === null ? 'nginx not installed (apt-get install nginx-light)' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-test-'))
  try {
    const conf = join(dir, 'nginx.conf')
    writeFileSync(conf, renderNginxConfig({ prefix: dir, port: 41235, body: `{"q":"it's \\\\ ok"}`, path: '/v1/chat/completions' }))
    execFileSync(tools.nginx as string, ['-t', '-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf], { stdio: 'pipe', timeout: 10_000 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the nginx target answers the injector with the fixed completion, and stops', { skip: tools.nginx === null ? 'nginx not installed (apt-get install nginx-light)' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-test-'))
  const registry = createProcessRegistry({ taskset: tools.taskset, cores: availableParallelism() })
  try {
    const target = await startNginx(registry, tools.nginx as string, dir, 1)
    const clock = systemClock()
    const inj = createInjector({ baseUrl: target.baseUrl, model: 'bench', timeoutMs: 5000, connections: 1, clock })
    const r = await inj.send({ endpoint: '/v1/chat/completions', prompt: 'hi', inputTokens: 1, maxTokens: 4, stream: false, includeUsage: true }, clock.now())
    await inj.close()
    assert.equal(r.ok, true, r.errorMessage)
    assert.equal(r.outputTokens, 7)
    await target.stop()
    assert.equal(registry.live, 0)
  } finally {
    registry.killAllSync()
    rmSync(dir, { recursive: true, force: true })
  }
})
