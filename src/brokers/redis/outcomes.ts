/**
 * Outcome lines: what an outcome event riding on a result write (set-results-n.lua) keeps of its
 * record in the event log. Written by the result store, read back by the coordination part.
 */
import type { ResultRecord } from '../../contracts/result-store.js'

/**
 * What an outcome event takes of its record, as one line of tab-separated fields: id, state,
 * task, worker, retries, runtime, at, fence. `at` is doneAt (updatedAt for a record not done):
 * on an entry's first line (no line `before`) as it is, after it as a step from the line before
 * ('+3', '-1'; empty for none); runtime is at - startedAt, empty for a record never started;
 * fence empty for none. The id is written as it is unless it holds a tab or a newline or starts with a quote or a '-' (then as JSON); task and worker
 * as JSON. State, task, worker and retries are left empty when the same as on the line before,
 * and a line the same as the one before but for its id is the id alone.
 * About 45 characters for a UUID id: the log keeps this, not the record's JSON (which the server
 * would copy byte by byte). outcomeRecords reads it back.
 */
export function outcomeLine(r: ResultRecord, before: ResultRecord | null): string {
  const id = r.id
  const c = id.charCodeAt(0)
  // A quote starts a JSON id; a '-' marks a dropped line (set-results-n.lua).
  const head = c !== 34 && c !== 45 && !id.includes('\t') && !id.includes('\n') ? id : JSON.stringify(id)
  const at = r.doneAt ?? r.updatedAt
  const run = r.startedAt === null ? -1 : at - r.startedAt
  const first = before === null
  const step = first ? at : at - (before.doneAt ?? before.updatedAt)
  const state = !first && before.state === r.state
  const task = !first && before.task === r.task
  const worker = !first && before.worker === r.worker
  const retries = !first && before.retries === r.retries
  if (state && task && worker && retries) {
    // The same as the line before but for the id (most lines of a batch): the id alone.
    if (run === lastRun && step === lastAt && !lastFirst && r.fence === lastFence) return head
    return `${head}\t\t\t\t\t${tailText(run, step, first, r.fence)}`
  }
  return `${head}\t${state ? '' : r.state}\t${task ? '' : JSON.stringify(r.task)}\t${
    worker ? '' : JSON.stringify(r.worker)
  }\t${retries ? '' : r.retries}\t${tailText(run, step, first, r.fence)}`
}

// The outcomes of a batch mostly share their runtime, their step from the line before (0) and
// their fence: the last tail is kept. Past an entry's first line, `at` is a step from the line
// before, a small number: an epoch in ms is above 2^31, which V8 writes as a double, its
// slowest number path.
let lastRun = NaN
let lastAt = NaN
let lastFirst = false
let lastFence: number | null = NaN
let lastTail = ''
/** Runtime (-1: none), at (absolute on a first line, else a step), fence, as written. */
function tailText(run: number, at: number, first: boolean, fence: number | null): string {
  if (run === lastRun && at === lastAt && first === lastFirst && fence === lastFence) return lastTail
  lastRun = run
  lastAt = at
  lastFirst = first
  lastFence = fence
  const atText = first ? at : at === 0 ? '' : at > 0 ? `+${at}` : at
  return (lastTail = `${run < 0 ? '' : run}\t${atText}\t${fence ?? ''}`)
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
    let f: string[] = []
    for (const raw of text.split('\n')) {
      const dropped = raw.charCodeAt(0) === 45 /* - */
      const line = dropped ? raw.slice(1) : raw
      // The id alone: every other field as on the line before.
      if (!line.includes('\t')) {
        if (f.length !== 8) return null
        f[0] = line
      } else f = line.split('\t')
      if (f.length !== 8) return null
      const num = (t: string) => (t === '' ? null : Number(t))
      if (f[1]) state = f[1]
      if (f[2]) task = JSON.parse(f[2])
      if (f[3]) worker = JSON.parse(f[3])
      if (f[4]) retries = Number(f[4])
      const step = f[6]!
      if (step)
        at =
          step.charCodeAt(0) === 43 /* + */ || step.charCodeAt(0) === 45 /* - */
            ? at + Number(step)
            : Number(step)
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
