// Where a CPU profile's time goes: self time by function and by package.
//   pnpm exec node packages/bench/src/profile-summary.ts packages/bench/results/profiles/<name>.cpuprofile [top] [last-seconds]
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** The package (or node:internal area) a script URL belongs to. */
export function areaOf(url: string): string {
  if (url === '') return '(native/VM)'
  const ws = /\/packages\/([^/]+)\/src\//.exec(url)
  if (ws !== null && !url.includes('node_modules')) return `@loadmesh/${ws[1]}`
  const nm = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm !== null) return nm[1]
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/')
  return url
}

/** `lastS`: only the samples of the profile's last `lastS` seconds (the measured phase, not startup). */
export function summarizeProfile(p: Profile, top = 25, lastS = Number.POSITIVE_INFINITY): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  const from = p.endTime - lastS * 1e6
  let t = p.startTime
  let total = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    t += dt
    if (t < from) continue
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt)
    total += dt
  }
  const fn = new Map<string, number>()
  const area = new Map<string, number>()
  for (const [id, us] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    const f = n.callFrame
    const key = `${f.functionName || '(anonymous)'}  ${f.url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${f.lineNumber + 1}`
    fn.set(key, (fn.get(key) ?? 0) + us)
    const a = f.functionName === '(garbage collector)' ? '(gc)' : f.functionName === '(idle)' ? '(idle)' : areaOf(f.url)
    area.set(a, (area.get(a) ?? 0) + us)
  }
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`
  const lines = [`total ${(total / 1e6).toFixed(2)} s sampled`, '', 'self time by area:']
  for (const [k, us] of [...area].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(us)}  ${k}`)
  lines.push('', `top ${top} functions by self time:`)
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`)
  return lines.join('\n')
}

if (import.meta.main) {
  const file = process.argv[2]
  if (file === undefined) {
    process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [top] [last-seconds]\n')
    process.exit(2)
  }
  process.stdout.write(`${summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(process.argv[3] ?? 25), Number(process.argv[4] ?? Number.POSITIVE_INFINITY))}\n`)
}
