/**
 * Statements that put jobs in and take them out. `{s}` is the schema. Each is one round trip.
 */

/**
 * Publish: $1..$5 the jobs as arrays (id, queue, priority, available_at or null, body), $6 queues
 * this process has not registered yet, $7 the jobs channel. A repeated id in the batch is stored
 * once (the first), an id already live is skipped (ON CONFLICT), and seq follows batch order.
 * The NOTIFY is part of the statement, so it is sent when the jobs commit: with the caller's
 * transaction, or not at all when it rolls back. Delayed jobs notify too, so a waiting consumer
 * sees the earlier due time.
 */
export const PUBLISH = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::text[])
    WITH ORDINALITY AS t(id, queue, priority, available_at, body, n)
), clock AS (SELECT {s}.now_ms() AS t),
first AS (SELECT DISTINCT ON (id) * FROM input ORDER BY id, n),
added AS (
  INSERT INTO {s}.jobs (id, queue, priority, state, available_at, body)
  SELECT f.id, f.queue, f.priority,
         CASE WHEN f.available_at > clock.t THEN 1 ELSE 0 END,
         CASE WHEN f.available_at > clock.t THEN f.available_at ELSE 0 END,
         f.body
    FROM first f, clock ORDER BY f.n
  ON CONFLICT (id) DO NOTHING
  RETURNING queue
), known AS (
  INSERT INTO {s}.queues (name) SELECT DISTINCT q FROM unnest($6::text[]) AS q ON CONFLICT DO NOTHING
)
SELECT pg_notify($7, queue) FROM (SELECT DISTINCT queue FROM added) AS woken`

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
