/**
 * Schema of the SQLite backend. A job is in one row of celeriac_jobs whose `state` says where it
 * is: 0 ready (ordered by priority, then seq), 1 delayed until available_at, 2 leased until
 * available_at. Due delayed jobs and expired leases are both found per queue through one partial index
 * on (queue, available_at), and become ready again in the reserve transaction.
 *
 * Tables here have the current shape; files created by an older version get the missing columns
 * from migrate.ts (so no index here may name a column a migration adds).
 */
export const SCHEMA_VERSION = 2

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS celeriac_jobs (
  seq          INTEGER PRIMARY KEY,
  id           TEXT    NOT NULL UNIQUE,
  queue        TEXT    NOT NULL,
  priority     INTEGER NOT NULL DEFAULT 0,
  state        INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL DEFAULT 0,
  token        INTEGER NOT NULL DEFAULT 0,
  deliveries   INTEGER NOT NULL DEFAULT 0,
  body         TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_jobs_ready ON celeriac_jobs (queue, priority DESC, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS celeriac_jobs_due ON celeriac_jobs (queue, available_at) WHERE state <> 0;

CREATE TABLE IF NOT EXISTS celeriac_dead (
  id         TEXT    PRIMARY KEY,
  queue      TEXT    NOT NULL,
  priority   INTEGER NOT NULL,
  body       TEXT    NOT NULL,
  reason     TEXT    NOT NULL,
  failed_at  INTEGER NOT NULL,
  deliveries INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_dead_failed ON celeriac_dead (failed_at);

CREATE TABLE IF NOT EXISTS celeriac_queues (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS celeriac_paused (queue TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS celeriac_throughput (
  queue  TEXT    NOT NULL,
  bucket INTEGER NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (queue, bucket)
) WITHOUT ROWID;

-- A rowid table (its id key is a separate small index): in a WITHOUT ROWID table a row of more
-- than about 1,000 bytes (a 4 KB page's index-cell limit) spills into an overflow page of its own,
-- so each 1 KB result took over 4 KB of file and of WAL. Files created before keep their table
-- as it is: the statements are the same for both shapes.
CREATE TABLE IF NOT EXISTS celeriac_results (
  id         TEXT    PRIMARY KEY,
  state      TEXT    NOT NULL,
  task       TEXT,
  result     TEXT,
  error      TEXT,
  retries    INTEGER NOT NULL DEFAULT 0,
  worker     TEXT,
  started_at INTEGER,
  done_at    INTEGER,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  fence      INTEGER
);
CREATE INDEX IF NOT EXISTS celeriac_results_expires ON celeriac_results (expires_at) WHERE expires_at IS NOT NULL;

-- Coordination (coordination.ts). A lock's row stays after release so its fence keeps growing.
CREATE TABLE IF NOT EXISTS celeriac_locks (
  name       TEXT    PRIMARY KEY,
  owner      TEXT,
  fence      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS celeriac_joins (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS celeriac_joins_expires ON celeriac_joins (expires_at);
CREATE TABLE IF NOT EXISTS celeriac_join_members (
  key    TEXT NOT NULL,
  member TEXT NOT NULL,
  PRIMARY KEY (key, member)
) WITHOUT ROWID;
-- A bucket without a row is full; full_at says when a row may go.
CREATE TABLE IF NOT EXISTS celeriac_buckets (
  key        TEXT    PRIMARY KEY,
  tokens     REAL    NOT NULL,
  updated_at INTEGER NOT NULL,
  full_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS celeriac_buckets_full ON celeriac_buckets (full_at);
CREATE TABLE IF NOT EXISTS celeriac_records (
  space      TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (space, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS celeriac_records_expires ON celeriac_records (expires_at) WHERE expires_at IS NOT NULL;
-- AUTOINCREMENT: ids never come back, even after the newest rows were trimmed or pruned.
CREATE TABLE IF NOT EXISTS celeriac_events (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  stream TEXT    NOT NULL,
  data   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_events_stream ON celeriac_events (stream, id);
CREATE TABLE IF NOT EXISTS celeriac_broadcast (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT    NOT NULL,
  message TEXT    NOT NULL,
  sent_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_broadcast_sent ON celeriac_broadcast (sent_at);

-- The fence counter: raised once per reserve transaction, so every delivery of a job (after a
-- lease expiry, retry, release or replay) has a higher token than the one before. A file whose
-- tokens were drawn at random (schema 1) continues above the highest one in use.
CREATE TABLE IF NOT EXISTS celeriac_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO celeriac_counters (name, value)
  SELECT 'fence', coalesce(max(token), 0) FROM celeriac_jobs;

CREATE TABLE IF NOT EXISTS celeriac_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO celeriac_meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}');
`
