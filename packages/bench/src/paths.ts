import { fileURLToPath } from 'node:url'
import { join, resolve } from 'node:path'

/** packages/bench */
export const PACKAGE_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')
export const REPO_DIR = resolve(PACKAGE_DIR, '..', '..')
export const RESULTS_DIR = join(PACKAGE_DIR, 'results')
export const LATEST_RESULTS = join(RESULTS_DIR, 'latest.json')
export const DOC_PATH = join(REPO_DIR, 'docs', 'benchmarks.md')
