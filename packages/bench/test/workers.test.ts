import { test } from 'node:test'
import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { createProcessRegistry, guardedCommand, pinnedCommand } from '../src/index.ts'
import type { BaselineClientResult, LoadmeshClientResult } from '../src/client-results.ts'
import type { StartBaseline } from '../src/workers/start-baseline.ts'
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

test('the start baseline: N bare processes each write one request per repetition at the shared T0, never before it', async () => {
  const registry = createProcessRegistry({ taskset: null, cores: availableParallelism() })
  const { createServer } = await import('node:http')
  const arrivals: number[] = []
  const server = createServer((req, res) => {
    arrivals.push(Number(process.hrtime.bigint()) / 1e6)
    req.resume()
    req.on('end', () => res.end('data: [DONE]\n\n'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const port = (server.address() as { port: number }).port
    const r = await runWorker<StartBaseline>(registry, workerPath('start-baseline.ts'), {
      deadlineMs: 30_000, processes: 3, repetitions: 2, target: `http://127.0.0.1:${port}`, leadMs: 200, gapMs: 100
    }, { core: null, timeoutMs: 30_000 })
    assert.equal(r.late_ms.length, 6, 'one sample per process and repetition')
    for (const v of r.late_ms) assert.ok(v >= 0 && Number.isFinite(v), `a write ${v} ms after T0`)
    assert.equal(arrivals.length, 6, 'every write is a whole request the server answered')
    // Both repetitions' requests arrive in two groups, the second at least gapMs after the first.
    arrivals.sort((a, b) => a - b)
    assert.ok((arrivals[3] as number) - (arrivals[2] as number) >= 100, `groups ${arrivals.map((a) => (a - (arrivals[0] as number)).toFixed(1)).join(', ')} ms`)
    assert.equal(registry.live, 0)
  } finally {
    server.close()
    registry.killAllSync()
  }
})
