/**
 * Cost of the results store over a long run: 16 peers × 3600 one-second windows at 100 req/s per
 * peer (9 histograms each). Run:
 *   cd /work/main && pnpm exec node --expose-gc packages/mesh-state/bench/results-store.bench.ts
 * PEERS / WINDOWS change the size; MEMORY_ONLY=1 measures only the heap held.
 */
import type { WindowSnapshot } from '@loadmesh/metrics'
import { createResultsStore } from '../src/index.ts'
import { recordedWindows } from '../test/helpers.ts'

const PEERS = Number(process.env.PEERS ?? 16)
const WINDOWS = Number(process.env.WINDOWS ?? 3600)
const base = Array.from({ length: PEERS }, (_, p) => recordedWindows(100 + p, 60, 100))
const at = (p: number, i: number, revision = 1): WindowSnapshot => {
  const w = base[p][i % 60]
  return { ...w, index: i, start_ms: i * 1000, revision: w.revision + revision }
}
const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`

function heapMiB(): number {
  for (let i = 0; i < 3; i++) globalThis.gc?.()
  return process.memoryUsage().heapUsed / 2 ** 20
}

if (process.env.MEMORY_ONLY === '1') {
  // Windows from the wire arrive as fresh strings (at() shares the base windows' strings).
  const fresh = (w: WindowSnapshot): WindowSnapshot => ({
    ...w,
    histograms: Object.fromEntries(Object.entries(w.histograms).map(([k, v]) => [k, Buffer.from(v as string, 'base64').toString('base64')]))
  })
  const heap0 = heapMiB()
  const store = createResultsStore()
  for (let i = 0; i < WINDOWS; i++) for (let p = 0; p < PEERS; p++) store.put('r', `peer-${p}`, fresh(at(p, i)))
  console.log(`heap held for ${store.merged('r').windows} windows: ${(heapMiB() - heap0).toFixed(0)} MiB`)
} else {
  const store = createResultsStore()
  let t0 = performance.now()
  for (let i = 0; i < WINDOWS; i++) for (let p = 0; p < PEERS; p++) store.put('r', `peer-${p}`, at(p, i))
  console.log(`${PEERS * WINDOWS} puts: ${ms(t0)} (${(((performance.now() - t0) / (PEERS * WINDOWS)) * 1000).toFixed(0)} us each)`)
  t0 = performance.now()
  const m = store.merged('r')
  console.log(`merged(): ${ms(t0)} (${m.windows} windows, ${m.counters.completed} requests)`)
  t0 = performance.now()
  const c = store.coverage('r')
  console.log(`coverage(): ${ms(t0)}: ${c.text}`)
  t0 = performance.now()
  const d = store.changesSince('r', 0, { peer: 'peer-0' })
  console.log(`changesSince(0) for one peer: ${ms(t0)} (${d.windows} windows)`)
  t0 = performance.now()
  store.mergedWindows('r')
  console.log(`mergedWindows() cold, ${WINDOWS} indices: ${ms(t0)}`)
  // One second of a live run: every peer revises its newest window; then the live views are read.
  const times: number[] = []
  for (let s = 0; s < 10; s++) {
    const t = performance.now()
    for (let p = 0; p < PEERS; p++) store.put('r', `peer-${p}`, at(p, WINDOWS - 1, 2 + s))
    store.merged('r')
    store.mergedWindows('r')
    store.changesSince('r', store.cursor() - PEERS)
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  console.log(`one live second (${PEERS} replaced windows, merged, mergedWindows, changesSince): median ${times[5].toFixed(1)} ms`)
}
