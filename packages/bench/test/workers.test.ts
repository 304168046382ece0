import { test } from 'node:test'
import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { createProcessRegistry, guardedCommand, pinnedCommand } from '../src/index.ts'
import type { BaselineClientResult, LoadmeshClientResult } from '../src/client-results.ts'
import { detectTools } from '../src/tools.ts'
import { runWorker, startServerWorker, workerPath } from '../src/worker-protocol.ts'

test('pinning wraps the command in taskset only when taskset and the core exist', () => {
  assert.deepEqual(pinnedCommand({ taskset: '/usr/bin/taskset', cores: 2 }, 1, 'nginx', ['-t']), { cmd: '/usr/bin/taskset', args: ['-c', '1', 'nginx', '-t'], pinned: true })
  assert.deepEqual(pinnedCommand({ taskset: '/usr/bin/taskset', cores: 1 }, 1, 'nginx', ['-t']), { cmd: 'nginx', args: ['-t'], pinned: false })
  assert.deepEqual(pinnedCommand({ taskset: null, cores: 2 }, 0, 'wrk', []), { cmd: 'wrk', args: [], pinned: false })
})

test('with setpriv, every child gets a parent-death SIGKILL around its pinning', () => {
  assert.deepEqual(
    guardedCommand({ taskset: 'taskset', cores: 2, setpriv: 'setpriv' }, 1, 'nginx', ['-t']),
    { cmd: 'setpriv', args: ['--pdeathsig', 'KILL', 'taskset', '-c', '1', 'nginx', '-t'] }
  )
  assert.deepEqual(guardedCommand({ taskset: 'taskset', cores: 2, setpriv: null }, null, 'bash', ['-c', 'x']), { cmd: 'bash', args: ['-c', 'x'] })
})

test('the server and client workers run pinned, report over IPC, and leave no process behind', async () => {
  const tools = detectTools()
  const registry = createProcessRegistry({ taskset: tools.taskset, cores: availableParallelism(), setpriv: tools.setpriv })
  try {
    const server = await startServerWorker(registry, workerPath('fast-server.ts'), { deadlineMs: 60_000, contentChunks: 16, writes: 2 }, { core: 1, timeoutMs: 10_000 })
    const raw = await runWorker<BaselineClientResult>(registry, workerPath('raw-reader-client.ts'), {
      deadlineMs: 30_000, port: server.port, path: '/v1/chat/completions', body: '{"stream":true}', connections: 2,
      eventsPerResponse: 19, warmupMs: 100, durationMs: 300
    }, { core: 0, timeoutMs: 30_000 })
    assert.ok(raw.completed > 0)
    assert.equal(raw.events, raw.completed * 19)
    const lm = await runWorker<LoadmeshClientResult>(registry, workerPath('loadmesh-client.ts'), {
      deadlineMs: 30_000, baseUrl: `http://127.0.0.1:${server.port}`, stream: true, connections: 2,
      warmupMs: 100, durationMs: 300, seed: 't', mode: 'closed', concurrency: 2
    }, { core: 0, timeoutMs: 30_000 })
    assert.ok(lm.completed > 0)
    assert.equal(lm.failed, 0, lm.firstError ?? '')
    assert.equal(lm.contentChunks, lm.completed * 16, 'every content chunk of every response is counted')
    assert.equal(lm.scheduleLagMs.count, lm.completed)
    await server.stop()
    assert.equal(registry.live, 0)
  } finally {
    registry.killAllSync()
  }
})

test('a worker that fails reports its error instead of hanging', async () => {
  const registry = createProcessRegistry({ taskset: null, cores: 1 })
  try {
    await assert.rejects(
      runWorker(registry, workerPath('raw-reader-client.ts'), {
        deadlineMs: 10_000, port: 1, path: '/', body: '', connections: 1, eventsPerResponse: 1, warmupMs: 10, durationMs: 10
      }, { core: 0, timeoutMs: 10_000 }),
      /raw-reader-client\.ts: .*ECONNREFUSED/
    )
    assert.equal(registry.live, 0)
  } finally {
    registry.killAllSync()
  }
})
