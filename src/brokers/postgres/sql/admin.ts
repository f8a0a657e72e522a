/** Queue administration statements. `{s}` is the schema. */

export const PAUSE = 'INSERT INTO {s}.paused (queue) VALUES ($1) ON CONFLICT DO NOTHING'

/** $2 the jobs channel: consumers waiting on the queue look again. */
export const RESUME = `
WITH gone AS (DELETE FROM {s}.paused WHERE queue = $1 RETURNING queue)
SELECT pg_notify($2, queue) FROM gone`

/** Waiting and delayed jobs go; leased ones stay with their consumers. */
export const PURGE = 'DELETE FROM {s}.jobs WHERE queue = $1 AND state <> 2'

/**
 * Counts per queue: $1 the queues (null: every queue ever published to), $2 the oldest
 * throughput bucket read. `settled` maps bucket to count.
 */
export const STATS = `
WITH clock AS (SELECT {s}.now_ms() AS t),
names AS (
  SELECT name FROM unnest($1::text[]) AS name WHERE $1::text[] IS NOT NULL
  UNION SELECT name FROM {s}.queues WHERE $1::text[] IS NULL)
SELECT n.name AS queue, c.waiting, c.delayed, c.active,
       (SELECT count(*) FROM {s}.dead d WHERE d.queue = n.name)::int AS dead,
       EXISTS (SELECT 1 FROM {s}.paused p WHERE p.queue = n.name) AS paused,
       (SELECT json_object_agg(bucket, total) FROM (
          SELECT bucket, sum(n)::bigint AS total FROM {s}.throughput tp
           WHERE tp.queue = n.name AND tp.bucket >= $2 GROUP BY bucket) b) AS settled,
       clock.t AS now
  FROM names n CROSS JOIN clock,
  LATERAL (SELECT count(*) FILTER (WHERE state = 0 OR (state = 1 AND available_at <= clock.t))::int AS waiting,
                  count(*) FILTER (WHERE state = 1 AND available_at > clock.t)::int AS delayed,
                  count(*) FILTER (WHERE state = 2)::int AS active
             FROM {s}.jobs j WHERE j.queue = n.name) c
 ORDER BY n.name`

/**
 * One page of a queue's jobs in one state (the split STATS counts): $1 queue, $2 'waiting',
 * 'delayed' or 'active', $3 limit, $4 offset. Waiting in delivery order, the others by due time.
 */
export const LIST_JOBS = `
WITH clock AS (SELECT {s}.now_ms() AS t)
SELECT j.id, j.queue, j.body, j.priority,
       CASE WHEN $2 = 'waiting' THEN NULL ELSE j.available_at::float8 END AS "availableAt",
       j.deliveries
  FROM {s}.jobs j CROSS JOIN clock
 WHERE j.queue = $1
   AND CASE $2::text
         WHEN 'waiting' THEN j.state = 0 OR (j.state = 1 AND j.available_at <= clock.t)
         WHEN 'delayed' THEN j.state = 1 AND j.available_at > clock.t
         ELSE j.state = 2 END
 ORDER BY CASE WHEN $2 = 'waiting' THEN -j.priority ELSE 0 END,
          CASE WHEN $2 = 'waiting' THEN 0 ELSE j.available_at END, j.seq
 LIMIT $3 OFFSET $4`
