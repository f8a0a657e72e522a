/** Dead-letter store statements. `{s}` is the schema; entries are ordered by (failed_at, n). */

/** $1 queue or null, $2 limit, $3 offset. Newest first. */
export const LIST_DEAD = `
SELECT id, queue, priority, body, reason, failed_at, deliveries FROM {s}.dead
 WHERE $1::text IS NULL OR queue = $1
 ORDER BY failed_at DESC, n DESC LIMIT $2 OFFSET $3`

/**
 * Back to their queues, oldest failure first, at the back of their priority: $1 ids or null (all),
 * $2 the jobs channel. An entry whose id is live again stays dead and is not counted.
 */
export const REPLAY_DEAD = `
WITH taken AS (
  DELETE FROM {s}.dead d
   WHERE ($1::text[] IS NULL OR d.id = ANY ($1::text[]))
     AND NOT EXISTS (SELECT 1 FROM {s}.jobs j WHERE j.id = d.id)
  RETURNING d.id, d.queue, d.priority, d.body, d.failed_at, d.n),
back AS (
  INSERT INTO {s}.jobs (id, queue, priority, body)
  SELECT id, queue, priority, body FROM taken ORDER BY failed_at, n
  ON CONFLICT (id) DO NOTHING
  RETURNING queue)
SELECT (SELECT count(*) FROM back)::int AS replayed,
       (SELECT count(pg_notify($2, queue)) FROM (SELECT DISTINCT queue FROM back) AS q)::int AS woken`

/** $1 ids or null (all). */
export const DELETE_DEAD = 'DELETE FROM {s}.dead WHERE $1::text[] IS NULL OR id = ANY ($1::text[])'

/** $1: entries that failed before this epoch ms (or null); $2: keep this many per queue (or null). */
export const PRUNE_DEAD = `
DELETE FROM {s}.dead
 WHERE ($1::bigint IS NOT NULL AND failed_at < $1)
    OR ($2::integer IS NOT NULL AND id IN (
         SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY queue ORDER BY failed_at DESC, n DESC) AS rank
                           FROM {s}.dead) AS ranked
          WHERE rank > $2))`
