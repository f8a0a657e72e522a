/** Every SQL statement of the SQLite broker, prepared once per connection. */
import type BetterSqlite3 from 'better-sqlite3'
import type { Db } from './database.js'

export type Statement = BetterSqlite3.Statement<unknown[]>

/** What an enqueue runs; also prepared on a caller's connection (enqueue.ts). */
export function prepareEnqueue(db: Db): Record<'insert' | 'addQueue', Statement> {
  return {
    insert: db.prepare(
      'INSERT OR IGNORE INTO celeriac_jobs (id, queue, priority, state, available_at, body) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    addQueue: db.prepare('INSERT OR IGNORE INTO celeriac_queues (name) VALUES (?)'),
  }
}

export function prepareStatements(db: Db): Statements {
  return {
    ...prepareEnqueue(db),
    // Due delayed jobs of a queue become ready at the back of their priority, in the order they
    // came due: they take new seqs above every existing one (found through celeriac_jobs_due).
    promoteDue: db.prepare(
      `UPDATE celeriac_jobs SET state = 0, seq = top.seq + due.n
       FROM (SELECT seq AS old, row_number() OVER (ORDER BY available_at, seq) AS n
             FROM celeriac_jobs WHERE state <> 0 AND state = 1 AND queue = ? AND available_at <= ?) AS due,
            (SELECT max(seq) AS seq FROM celeriac_jobs) AS top
       WHERE celeriac_jobs.seq = due.old`,
    ),
    // (`state <> 0` repeats the partial index's condition: SQLite uses a partial index only when
    // the query names its condition; `state = 2` alone would scan the table.)
    // Expired leases go back to the front of their priority: they keep their seq, their place in
    // line. The next reserve gives them a new token; the old one is stale from now (state 0).
    reclaimExpired: db.prepare(
      'UPDATE celeriac_jobs SET state = 0, token = 0 WHERE state <> 0 AND state = 2 AND queue = ? AND available_at <= ?',
    ),
    // Whether a reserve on these queues could find anything: read without the write lock, so an
    // idle consumer woken by another queue's commit goes back to sleep without BEGIN IMMEDIATE.
    mightHaveWork: db
      .prepare(
        `SELECT EXISTS (
           SELECT 1 FROM json_each(@queues) AS q
           WHERE q.value NOT IN (SELECT queue FROM celeriac_paused)
             AND (EXISTS (SELECT 1 FROM celeriac_jobs WHERE state = 0 AND queue = q.value)
               OR EXISTS (SELECT 1 FROM celeriac_jobs WHERE state <> 0 AND queue = q.value AND available_at <= @now)))`,
      )
      .pluck(),
    pickOne: db
      .prepare(
        'SELECT seq FROM celeriac_jobs WHERE state = 0 AND queue = ? ORDER BY priority DESC, seq LIMIT ?',
      )
      .pluck(),
    pickOneWithPriority: db.prepare(
      'SELECT seq, priority FROM celeriac_jobs WHERE state = 0 AND queue = ? ORDER BY priority DESC, seq LIMIT ?',
    ),
    lease: db.prepare(
      `UPDATE celeriac_jobs SET state = 2, available_at = ?, token = ?, deliveries = deliveries + 1
       WHERE seq IN (SELECT value FROM json_each(?))
       RETURNING seq, id, queue, body, priority, deliveries`,
    ),
    nextFence: db
      .prepare("UPDATE celeriac_counters SET value = value + 1 WHERE name = 'fence' RETURNING value")
      .pluck(),
    nextDue: db.prepare('SELECT min(available_at) FROM celeriac_jobs WHERE state <> 0 AND queue = ?').pluck(),
    ack: db
      .prepare(
        'DELETE FROM celeriac_jobs WHERE seq = ? AND token = ? AND state = 2 AND id = ? RETURNING queue',
      )
      .pluck(),
    extend: db.prepare(
      'UPDATE celeriac_jobs SET available_at = ? WHERE seq = ? AND token = ? AND state = 2 AND id = ?',
    ),
    release: db.prepare(
      'UPDATE celeriac_jobs SET state = 0, token = 0, deliveries = max(deliveries - 1, 0) WHERE seq = ? AND token = ? AND state = 2 AND id = ?',
    ),
    // A retried job goes to the back of its priority, as a new job would: it takes a seq above
    // every existing one (the next token names the new seq). Delayed retries that come due at the
    // same time become ready in the order they were retried.
    retry: db.prepare(
      `UPDATE celeriac_jobs SET state = ?, available_at = ?, body = ?, token = 0,
         seq = (SELECT max(seq) FROM celeriac_jobs) + 1
       WHERE seq = ? AND token = ? AND state = 2 AND id = ?`,
    ),
    // A deferred job was not run: the delivery is not counted, the body is kept, and it goes to
    // the back of its priority (a new seq), behind the jobs that were ready before it.
    defer: db.prepare(
      `UPDATE celeriac_jobs SET state = ?, available_at = ?, token = 0, deliveries = max(deliveries - 1, 0),
         seq = (SELECT max(seq) FROM celeriac_jobs) + 1
       WHERE seq = ? AND token = ? AND state = 2 AND id = ?`,
    ),
    take: db.prepare(
      'DELETE FROM celeriac_jobs WHERE seq = ? AND token = ? AND state = 2 AND id = ? RETURNING id, queue, priority, body, deliveries',
    ),
    insertDead: db.prepare(
      'INSERT OR REPLACE INTO celeriac_dead (id, queue, priority, body, reason, failed_at, deliveries) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    listDead: db.prepare('SELECT * FROM celeriac_dead ORDER BY failed_at DESC, rowid DESC LIMIT ? OFFSET ?'),
    listDeadQueue: db.prepare(
      'SELECT * FROM celeriac_dead WHERE queue = ? ORDER BY failed_at DESC, rowid DESC LIMIT ? OFFSET ?',
    ),
    // Replay takes only entries whose id is not live again; the others stay dead.
    takeDeadIds: db.prepare(
      `DELETE FROM celeriac_dead WHERE id IN (SELECT value FROM json_each(?)) AND id NOT IN (SELECT id FROM celeriac_jobs)
       RETURNING rowid AS n, id, queue, priority, body, failed_at`,
    ),
    takeDeadAll: db.prepare(
      `DELETE FROM celeriac_dead WHERE id NOT IN (SELECT id FROM celeriac_jobs)
       RETURNING rowid AS n, id, queue, priority, body, failed_at`,
    ),
    insertReplayed: db.prepare(
      'INSERT INTO celeriac_jobs (id, queue, priority, state, available_at, body) VALUES (?, ?, ?, 0, 0, ?)',
    ),
    pruneDeadBefore: db.prepare('DELETE FROM celeriac_dead WHERE failed_at < ?'),
    pruneDeadKeep: db.prepare(
      `DELETE FROM celeriac_dead WHERE rowid IN (
         SELECT rowid FROM (
           SELECT rowid, row_number() OVER (PARTITION BY queue ORDER BY failed_at DESC, rowid DESC) AS n
           FROM celeriac_dead)
         WHERE n > ?)`,
    ),
    deleteDead: db.prepare('DELETE FROM celeriac_dead WHERE id = ?'),
    deleteAllDead: db.prepare('DELETE FROM celeriac_dead'),
    purge: db.prepare('DELETE FROM celeriac_jobs WHERE queue = ? AND state <> 2'),
    listQueues: db.prepare('SELECT name FROM celeriac_queues ORDER BY name').pluck(),
    countQueue: db.prepare(
      `SELECT sum(state = 0 OR (state = 1 AND available_at <= ?)) AS waiting,
              sum(state = 1 AND available_at > ?) AS delayed,
              sum(state = 2) AS active
       FROM celeriac_jobs WHERE queue = ?`,
    ),
    // listJobs: one page of a queue in one state (the same split as countQueue).
    listWaiting: db.prepare(
      `SELECT id, queue, body, priority, NULL AS availableAt, deliveries FROM celeriac_jobs
       WHERE queue = ? AND (state = 0 OR (state = 1 AND available_at <= ?))
       ORDER BY priority DESC, seq LIMIT ? OFFSET ?`,
    ),
    listDelayed: db.prepare(
      `SELECT id, queue, body, priority, available_at AS availableAt, deliveries FROM celeriac_jobs
       WHERE queue = ? AND state = 1 AND available_at > ? ORDER BY available_at, seq LIMIT ? OFFSET ?`,
    ),
    listActive: db.prepare(
      `SELECT id, queue, body, priority, available_at AS availableAt, deliveries FROM celeriac_jobs
       WHERE queue = ? AND state = 2 AND ? IS NOT NULL ORDER BY available_at, seq LIMIT ? OFFSET ?`,
    ),
    countDead: db.prepare('SELECT count(*) FROM celeriac_dead WHERE queue = ?').pluck(),
    anyPaused: db.prepare('SELECT EXISTS (SELECT 1 FROM celeriac_paused)').pluck(),
    isPaused: db.prepare('SELECT EXISTS (SELECT 1 FROM celeriac_paused WHERE queue = ?)').pluck(),
    pause: db.prepare('INSERT OR IGNORE INTO celeriac_paused (queue) VALUES (?)'),
    resume: db.prepare('DELETE FROM celeriac_paused WHERE queue = ?'),
    countSettled: db.prepare(
      `INSERT INTO celeriac_throughput (queue, bucket, n) VALUES (?, ?, ?)
       ON CONFLICT (queue, bucket) DO UPDATE SET n = n + excluded.n`,
    ),
    pruneSettled: db.prepare('DELETE FROM celeriac_throughput WHERE bucket < ?'),
    readSettled: db.prepare('SELECT bucket, n FROM celeriac_throughput WHERE queue = ? AND bucket >= ?'),
  }
}

export type Statements = Record<StatementName, Statement>

type StatementName =
  | 'insert'
  | 'addQueue'
  | 'promoteDue'
  | 'reclaimExpired'
  | 'mightHaveWork'
  | 'pickOne'
  | 'pickOneWithPriority'
  | 'lease'
  | 'nextFence'
  | 'nextDue'
  | 'ack'
  | 'extend'
  | 'release'
  | 'retry'
  | 'defer'
  | 'take'
  | 'insertDead'
  | 'listDead'
  | 'listDeadQueue'
  | 'takeDeadIds'
  | 'takeDeadAll'
  | 'insertReplayed'
  | 'pruneDeadBefore'
  | 'pruneDeadKeep'
  | 'deleteDead'
  | 'deleteAllDead'
  | 'purge'
  | 'listQueues'
  | 'countQueue'
  | 'countDead'
  | 'listWaiting'
  | 'listDelayed'
  | 'listActive'
  | 'anyPaused'
  | 'isPaused'
  | 'pause'
  | 'resume'
  | 'countSettled'
  | 'pruneSettled'
  | 'readSettled'
