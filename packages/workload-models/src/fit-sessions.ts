import { countTokens } from '@loadmesh/workload'
import type { SessionModel, WorkloadRecord } from './types.ts'
import { fitLengths } from './fit-lengths.ts'

export interface Session { id: string; turns: WorkloadRecord[] }

/**
 * Groups records into sessions by session id (turns ordered by turn number, then time). A record
 * without a session id is a session of one turn, so a log that mixes both keeps every request.
 */
export function groupSessions (records: readonly WorkloadRecord[]): Session[] {
  const byId = new Map<string, Session>()
  const sessions: Session[] = []
  for (const r of records) {
    if (r.sessionId === undefined) {
      sessions.push({ id: `line:${r.line}`, turns: [r] })
      continue
    }
    let s = byId.get(r.sessionId)
    if (s === undefined) {
      s = { id: r.sessionId, turns: [] }
      byId.set(r.sessionId, s)
      sessions.push(s)
    }
    s.turns.push(r)
  }
  for (const s of sessions) s.turns.sort((a, b) => (a.turn ?? 0) - (b.turn ?? 0) || a.atMs - b.atMs)
  // Order by first arrival: that is the order in which sessions start.
  sessions.sort((a, b) => a.turns[0].atMs - b.turns[0].atMs)
  return sessions
}

function messageTokens (messages: ReadonlyArray<{ content: string }>): number {
  let n = 0
  for (const m of messages) n += countTokens(m.content)
  return n
}

/**
 * Share of `current`'s input that repeats `previous`'s context. With logged messages it is the
 * measured common prefix (whole messages, same role and text); with counts only it is
 * min(1, (previous input + previous output) / current input), an upper bound.
 */
function reuseOf (previous: WorkloadRecord, current: WorkloadRecord): number {
  if (current.inputTokens === 0) return 0
  if (previous.messages !== undefined && current.messages !== undefined) {
    let k = 0
    while (k < previous.messages.length && k < current.messages.length &&
      previous.messages[k].role === current.messages[k].role && previous.messages[k].content === current.messages[k].content) k++
    const total = messageTokens(current.messages)
    return total === 0 ? 0 : messageTokens(current.messages.slice(0, k)) / total
  }
  return Math.min(1, (previous.inputTokens + previous.outputTokens) / current.inputTokens)
}

/**
 * Session statistics: turns per session, think time (between consecutive turns' arrivals),
 * whether inputs accumulate the conversation (most later turns at least as long as the previous
 * turn's input + output), the new tokens per turn, and prefix reuse.
 */
export function fitSessions (sessions: readonly Session[], maxComponents: number): SessionModel {
  const turns = sessions.map((s) => s.turns.length)
  const think: number[] = []
  const growth: number[] = []
  let accumulating = 0
  let later = 0
  let reuse = 0
  for (const s of sessions) {
    for (let k = 1; k < s.turns.length; k++) {
      const prev = s.turns[k - 1]
      const cur = s.turns[k]
      think.push(Math.max(0, Math.round(cur.atMs - prev.atMs)))
      const context = prev.inputTokens + prev.outputTokens
      later++
      if (cur.inputTokens >= context) accumulating++
      growth.push(Math.max(0, cur.inputTokens - context))
      reuse += reuseOf(prev, cur)
    }
  }
  const contextMode = later > 0 && accumulating * 2 >= later ? 'accumulate' : 'independent'
  return {
    count: sessions.length,
    turns: fitLengths(turns, { maxComponents, min: 1 }),
    thinkTimeMs: think.length > 0 ? fitLengths(think, { families: ['lognormal', 'empirical'], maxComponents }) : fitLengths([0], { families: ['empirical'] }),
    contextMode,
    growthTokens: contextMode === 'accumulate' ? fitLengths(growth, { maxComponents }) : null,
    prefixReuse: later > 0 ? reuse / later : 0
  }
}
