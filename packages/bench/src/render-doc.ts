// Rebuilds docs/benchmarks.md from a results file without rerunning anything:
//   pnpm exec node packages/bench/src/render-doc.ts [results.json]
import { readFileSync, writeFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { renderBenchmarksDoc } from './benchmarks-doc.ts'
import { DOC_PATH, LATEST_RESULTS, REPO_DIR } from './paths.ts'
import { checkResultsShape } from './results.ts'
import type { BenchResults } from './results.ts'

const file = process.argv[2] === undefined ? LATEST_RESULTS : resolve(process.argv[2])
let parsed: unknown
try {
  parsed = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  process.stderr.write(`${file}: cannot read results: ${(err as Error).message}\n`)
  process.exit(1)
}
const problems = checkResultsShape(parsed)
if (problems.length > 0) {
  process.stderr.write(`${file}: not a bench results file:\n${problems.map((p) => `  ${p}`).join('\n')}\n`)
  process.exit(1)
}
writeFileSync(DOC_PATH, renderBenchmarksDoc(parsed as BenchResults, relative(REPO_DIR, file)))
process.stdout.write(`${relative(REPO_DIR, DOC_PATH)} regenerated from ${relative(REPO_DIR, file)}\n`)
