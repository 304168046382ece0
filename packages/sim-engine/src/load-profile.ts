import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProfileError } from './errors.ts'
import { parseProfile } from './profile.ts'
import type { Profile } from './profile.ts'

const PRESET_DIR = fileURLToPath(new URL('../profiles/', import.meta.url))

/** Names of the preset profiles shipped in packages/sim-engine/profiles, sorted. */
export function listProfiles(): string[] {
  return readdirSync(PRESET_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort()
}

/**
 * A preset by name (see `listProfiles`) or a JSON profile file by path, validated, with defaults
 * filled in. Throws ProfileError naming the file and the field.
 */
export function loadProfile(nameOrPath: string): Profile {
  if (typeof nameOrPath !== 'string' || nameOrPath.trim() === '') {
    throw new ProfileError(`profile: expected a preset name or a file path, got ${JSON.stringify(nameOrPath)}`)
  }
  const presets = listProfiles()
  if (presets.includes(nameOrPath)) return readProfile(`${PRESET_DIR}${nameOrPath}.json`, `preset ${nameOrPath}`, nameOrPath)
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.includes('\\') || extname(nameOrPath) === '.json'
  if (!looksLikePath && !existsSync(nameOrPath)) {
    throw new ProfileError(`profile "${nameOrPath}": not a preset (presets: ${presets.join(', ')}) and not a file; give a preset name or a path to a JSON profile`)
  }
  return readProfile(nameOrPath, nameOrPath, basename(nameOrPath, '.json'))
}

function readProfile(path: string, source: string, defaultName: string): Profile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ProfileError(`profile ${source}: cannot read the file: ${(err as Error).message}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ProfileError(`profile ${source}: not valid JSON: ${(err as Error).message}`)
  }
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && (raw as Record<string, unknown>).name === undefined) {
    raw = { ...(raw as Record<string, unknown>), name: defaultName }
  }
  return parseProfile(raw, source)
}
