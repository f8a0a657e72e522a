/**
 * Writing jobs into celeriac_jobs: the broker's own publish transaction, and a transaction the
 * caller holds on a better-sqlite3 connection of their own to the same file
 * (`publish(jobs, { transaction: db })`), so the jobs commit or roll back with the caller's rows.
 */
import { realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import type { OutgoingJob } from '../../contracts/broker.js'
import { ConfigError } from '../../core/errors.js'
import type { Db } from './database.js'
import { prepareEnqueue, type Statement } from './statements.js'

export const READY = 0
export const DELAYED = 1

/** The two statements an enqueue runs. */
export interface EnqueueStatements {
  readonly insert: Statement
  readonly addQueue: Statement
}

/** Inserts one job; an id already live is skipped (INSERT OR IGNORE: idempotent publish). */
export function insertJob(st: EnqueueStatements, j: OutgoingJob, now: number): void {
  const delayed = j.availableAt !== undefined && j.availableAt > now
  st.insert.run(j.id, j.queue, j.priority, delayed ? DELAYED : READY, delayed ? j.availableAt : 0, j.body)
}

const USAGE =
  'publish({ transaction }) on sqlite:// takes a better-sqlite3 Database of your own on the broker file, inside BEGIN (db.exec("BEGIN IMMEDIATE"))'

/** Resolves symlinks when the file exists, so two spellings of one file compare equal. */
function canonical(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return resolve(path)
  }
}

function isDatabase(value: unknown): value is Db {
  const v = value as Partial<Db> | null
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.prepare === 'function' &&
    typeof v.inTransaction === 'boolean' &&
    typeof v.name === 'string'
  )
}

/**
 * The caller's connection when it can carry the jobs, else a ConfigError naming what is wrong:
 * not a better-sqlite3 Database, closed, in memory, read-only, on another file, the broker's own
 * connection, or not inside a transaction (the jobs would then commit on their own at once).
 */
export function callerConnection(tx: unknown, brokerPath: string, own: Db): Db {
  if (!isDatabase(tx)) throw new ConfigError(`${USAGE}; got ${tx === null ? 'null' : typeof tx}`)
  if (!tx.open) throw new ConfigError(`${USAGE}; this connection is closed`)
  if (tx.memory)
    throw new ConfigError(
      `${USAGE}; this connection is an in-memory database, not the broker file ${brokerPath}`,
    )
  if (canonical(tx.name) !== canonical(brokerPath))
    throw new ConfigError(
      `${USAGE}; this connection is on ${resolve(tx.name)}, not on the broker file ${brokerPath}`,
    )
  if (tx === own)
    throw new ConfigError(`${USAGE}; this is the broker's own connection: open another one on the file`)
  if (tx.readonly) throw new ConfigError(`${USAGE}; this connection is read-only`)
  if (!tx.inTransaction)
    throw new ConfigError(
      `${USAGE}; this connection is not inside a transaction (call db.exec("BEGIN IMMEDIATE") first)`,
    )
  return tx
}

/** Prepared once per caller connection, dropped with it. */
const callerStatements = new WeakMap<Db, EnqueueStatements>()

/**
 * Inserts the jobs on the caller's connection, synchronously inside their open transaction: no
 * BEGIN of ours and no retry (a busy error belongs to the caller's transaction, which BEGIN
 * IMMEDIATE avoids). The schema exists: the broker created it when it connected. Queues are
 * registered in the same transaction, so a rollback forgets them too.
 *
 * Nothing wakes this process's waiters when the caller commits, and nothing needs to: the
 * commit changes the file's data_version, which every connection's change watch polls
 * (watch.ts), so consumers here and in other processes see the jobs within one poll.
 */
export function publishInCallerTransaction(db: Db, jobs: readonly OutgoingJob[], now: number): void {
  let st = callerStatements.get(db)
  if (!st) {
    st = prepareEnqueue(db)
    callerStatements.set(db, st)
  }
  const queues = new Set<string>()
  for (const j of jobs) {
    insertJob(st, j, now)
    queues.add(j.queue)
  }
  for (const q of queues) st.addQueue.run(q)
}
