/**
 * Statements that put jobs in and take them out. `{s}` is the schema. Each is one round trip.
 */

/**
 * Publish: $1, $2, $5 the jobs' ids, queues and bodies, each joined with the separator $9
 * (../arrays.ts), $3, $4 their priorities and available_at (null: now) as arrays, $6 queues this
 * process has not registered yet, $7 the jobs channel, $8 the batch's queues (distinct). A joined
 * column of one empty value is '' (string_to_array would give no element for it). Rows go in in
 * batch order, so seq follows it. The NOTIFY is part of the statement, so it is sent when the jobs
 * commit: with the caller's transaction, or not at all when it rolls back. It names every queue
 * of the batch, even one whose jobs were all skipped (a consumer then finds nothing); delayed jobs
 * notify too, so a waiting consumer sees the earlier due time.
 */
const split = (p: string) =>
  `CASE ${p}::text WHEN '' THEN '{""}'::text[] ELSE string_to_array(${p}::text, $9::text) END`
const publish = (conflict: string) => `
WITH clock AS (SELECT {s}.now_ms() AS t),
added AS (
  INSERT INTO {s}.jobs (id, queue, priority, state, available_at, body)
  SELECT f.id, f.queue, f.priority,
         CASE WHEN f.available_at > clock.t THEN 1 ELSE 0 END,
         CASE WHEN f.available_at > clock.t THEN f.available_at ELSE 0 END,
         f.body
    FROM unnest(${split('$1')}, ${split('$2')}, $3::integer[], $4::bigint[], ${split('$5')})
           WITH ORDINALITY AS f(id, queue, priority, available_at, body, n), clock
   ORDER BY f.n${conflict}
), known AS (
  INSERT INTO {s}.queues (name) SELECT DISTINCT q FROM unnest($6::text[]) AS q ON CONFLICT DO NOTHING
)
SELECT pg_notify($7, q) FROM unnest($8::text[]) AS q`

/**
 * Idempotent publish: ON CONFLICT skips an id already live as well as a repeat of an id earlier
 * in the same batch (the conflict check sees the rows this statement inserted), so the first is
 * stored.
 */
export const PUBLISH = publish('\n  ON CONFLICT (id) DO NOTHING')

/**
 * Publish of a batch whose ids celeriac generated (UUIDv7, OutgoingJob.generatedId), which cannot
 * be live already: a plain insert. ON CONFLICT inserts each row speculatively (a look-up of the
 * primary key before the insert, a lock, and a WAL record confirming the row after it), which was
 * 44 % of the statement's server CPU (14.6 against 8.2 µs a job, batches of 1,000) and 48 of its
 * 522 WAL bytes a job.
 */
export const PUBLISH_NEW = publish('')

/** Reserve (the function of migration 1): $1 queues, $2 max, $3 lease ms. */
export const RESERVE = 'SELECT * FROM {s}.reserve($1::text[], $2::integer, $3::bigint)'

/** When the first delayed job or lease of these queues comes due (epoch ms, engine clock), and now. */
export const NEXT_DUE = `
SELECT (SELECT min(available_at) FROM {s}.jobs WHERE state <> 0 AND queue = ANY ($1::text[])) AS next,
       {s}.now_ms() AS now`

/** Dead and live rows of the jobs table and when it was last vacuumed (epoch ms, null: never). $1 schema. */
export const JOBS_DEAD_ROWS = `
SELECT n_dead_tup AS dead, n_live_tup AS live,
       (extract(epoch FROM greatest(last_vacuum, last_autovacuum)) * 1000)::bigint AS vacuumed
  FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`

/** Run alone (VACUUM cannot run in a transaction); skips the table if another holds a conflicting lock. */
export const VACUUM_JOBS = 'VACUUM (SKIP_LOCKED) {s}.jobs'
