/**
 * Outcome lines: what an outcome event riding on a result write (set-results-n.lua) keeps of its
 * record in the event log. Written by the result store, read back by the coordination part.
 */
import type { ResultRecord } from '../../contracts/result-store.js'

/**
 * What an outcome event takes of its record, as one line of tab-separated fields: id, state,
 * task, worker, retries, runtime, at, fence. `at` is doneAt (updatedAt for a record not done),
 * left empty when the same as on the line `before` (none for an entry's first line); runtime is
 * at - startedAt, empty for a record never started; fence empty for none. The id is written as
 * it is unless it holds a tab or a newline or starts with a quote (then as JSON); task and worker
 * as JSON. State, task, worker and retries are left empty when the same as on the line before.
 * About 45 characters for a UUID id: the log keeps this, not the record's JSON (which the server
 * would copy byte by byte). outcomeRecords reads it back.
 */
export function outcomeLine(r: ResultRecord, before: ResultRecord | null): string {
  const id = r.id
  const head = id.charCodeAt(0) !== 34 && !id.includes('\t') && !id.includes('\n') ? id : JSON.stringify(id)
  // Most lines share all four with the line before: two joins, of texts mostly made already.
  const middle =
    before !== null &&
    before.state === r.state &&
    before.task === r.task &&
    before.worker === r.worker &&
    before.retries === r.retries
      ? '\t\t\t\t\t'
      : `\t${before?.state === r.state ? '' : r.state}\t${
          before && before.task === r.task ? '' : JSON.stringify(r.task)
        }\t${before && before.worker === r.worker ? '' : JSON.stringify(r.worker)}\t${
          before && before.retries === r.retries ? '' : r.retries
        }\t`
  const at = r.doneAt ?? r.updatedAt
  const sameAt = before !== null && at === (before.doneAt ?? before.updatedAt)
  return head + middle + tailText(r.startedAt === null ? -1 : at - r.startedAt, sameAt ? -1 : at, r.fence)
}

// The outcomes of a batch mostly share their runtime, end and fence: the last tail is kept.
// An epoch in ms is above 2^31, which V8 writes as a double, its slowest number path.
let lastRun = NaN
let lastAt = NaN
let lastFence: number | null = NaN
let lastTail = ''
/** Runtime, at and fence as written; -1 for an empty runtime or at. */
function tailText(run: number, at: number, fence: number | null): string {
  if (run === lastRun && at === lastAt && fence === lastFence) return lastTail
  lastRun = run
  lastAt = at
  lastFence = fence
  return (lastTail = `${run < 0 ? '' : run}\t${at < 0 ? '' : at}\t${fence ?? ''}`)
}

/**
 * An entry's outcome lines read back (outcomeLine), one record-shaped object each, in order; null
 * for a line the script marked dropped (its record was fenced out), which still carries its
 * fields to the lines after it. Null as a whole when the text is malformed.
 */
export function outcomeRecords(text: string): (Record<string, unknown> | null)[] | null {
  const out: (Record<string, unknown> | null)[] = []
  let state = ''
  let task: unknown = null
  let worker: unknown = null
  let retries = 0
  let at = NaN
  try {
    for (const raw of text.split('\n')) {
      const dropped = raw.charCodeAt(0) === 45 /* - */
      const f = (dropped ? raw.slice(1) : raw).split('\t')
      if (f.length !== 8) return null
      const num = (t: string) => (t === '' ? null : Number(t))
      if (f[1]) state = f[1]
      if (f[2]) task = JSON.parse(f[2])
      if (f[3]) worker = JSON.parse(f[3])
      if (f[4]) retries = Number(f[4])
      if (f[6]) at = Number(f[6])
      if (dropped) {
        out.push(null)
        continue
      }
      const run = num(f[5]!)
      out.push({
        id: f[0]!.charCodeAt(0) === 34 ? JSON.parse(f[0]!) : f[0],
        state,
        task,
        worker,
        retries,
        startedAt: run === null ? null : at - run,
        doneAt: at,
        updatedAt: at,
        fence: num(f[7]!),
      })
    }
  } catch {
    return null
  }
  return out
}
