/**
 * Settle and lease statements, each one batch in one statement. Refs arrive as arrays
 * ($1 ids, $2 seqs, $3 fences, from tokens "<seq>:<fence>"); a ref matches only the row with that
 * id, seq and fence in state 2 (leased), so a stale token or another job's id changes nothing.
 * A ref repeated in the batch is applied once. Each returns the refs that matched (id, seq,
 * token), so the caller answers true for the first occurrence of each.
 */
const REFS = `refs AS (
  SELECT DISTINCT ON (id, seq, token) * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
    WITH ORDINALITY AS r(id, seq, token, n) ORDER BY id, seq, token, n)`

const MATCH = 'j.id = r.id AND j.seq = r.seq AND j.token = r.token AND j.state = 2'

/** Settled jobs counted for throughput: $4 the bucket, $5 the shard. */
const COUNT = (from: string) => `counted AS (
  INSERT INTO {s}.throughput (queue, bucket, shard, n)
  SELECT queue, $4, $5, count(*) FROM ${from} GROUP BY queue
  ON CONFLICT (queue, bucket, shard) DO UPDATE SET n = {s}.throughput.n + excluded.n)`

export const ACK = `
WITH ${REFS},
gone AS (DELETE FROM {s}.jobs j USING refs r WHERE ${MATCH} RETURNING j.id, j.seq, j.token, j.queue),
${COUNT('gone')}
SELECT id, seq, token FROM gone`

/** $4 lease ms. */
export const EXTEND = `
WITH ${REFS}
UPDATE {s}.jobs j SET available_at = {s}.now_ms() + $4 FROM refs r WHERE ${MATCH}
RETURNING j.id, j.seq, j.token`

/** Back to ready in the job's old place (its seq); the released delivery is not counted. $4 channel. */
export const RELEASE = `
WITH ${REFS}
UPDATE {s}.jobs j SET state = 0, token = 0, deliveries = greatest(j.deliveries - 1, 0) FROM refs r WHERE ${MATCH}
RETURNING j.id, r.seq, r.token, pg_notify($4, j.queue)`

/**
 * A retried job is a new arrival: the back of its priority (a new seq, drawn in batch order, so
 * retries due together come due in the order retried). $4 bodies, $5 delays (ms), $6 channel.
 */
export const RETRY = `
WITH refs AS (
  SELECT DISTINCT ON (id, seq, token) * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])
    WITH ORDINALITY AS r(id, seq, token, body, delay, n) ORDER BY id, seq, token, n),
clock AS (SELECT {s}.now_ms() AS t),
placed AS (SELECT r.*, nextval('{s}.job_seq') AS new_seq FROM (SELECT * FROM refs ORDER BY n) r)
UPDATE {s}.jobs j
   SET state = CASE WHEN r.delay > 0 THEN 1 ELSE 0 END,
       available_at = CASE WHEN r.delay > 0 THEN clock.t + r.delay ELSE 0 END,
       body = r.body, token = 0, seq = r.new_seq
  FROM placed r, clock WHERE ${MATCH}
RETURNING j.id, r.seq, r.token, pg_notify($6, j.queue)`

/**
 * A deferred job was not run: same body, the delivery not counted, to the back of its priority
 * (a new seq) once its delay passes. $4 delays (ms), $5 channel.
 */
export const DEFER = `
WITH refs AS (
  SELECT DISTINCT ON (id, seq, token) * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
    WITH ORDINALITY AS r(id, seq, token, delay, n) ORDER BY id, seq, token, n),
clock AS (SELECT {s}.now_ms() AS t),
placed AS (SELECT r.*, nextval('{s}.job_seq') AS new_seq FROM (SELECT * FROM refs ORDER BY n) r)
UPDATE {s}.jobs j
   SET state = CASE WHEN r.delay > 0 THEN 1 ELSE 0 END,
       available_at = CASE WHEN r.delay > 0 THEN clock.t + r.delay ELSE 0 END,
       token = 0, deliveries = greatest(j.deliveries - 1, 0), seq = r.new_seq
  FROM placed r, clock WHERE ${MATCH}
RETURNING j.id, r.seq, r.token, pg_notify($5, j.queue)`

/**
 * Into the dead-letter store, in batch order (n), replacing an older entry of the same id.
 * $4 bucket, $5 shard (throughput), $6 reasons.
 */
export const DEAD_LETTER = `
WITH refs AS (
  SELECT DISTINCT ON (id, seq, token) * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $6::text[])
    WITH ORDINALITY AS r(id, seq, token, reason, n) ORDER BY id, seq, token, n),
clock AS (SELECT {s}.now_ms() AS t),
gone AS (
  DELETE FROM {s}.jobs j USING refs r WHERE ${MATCH}
  RETURNING j.id, j.seq, j.token, j.queue, j.priority, j.body, j.deliveries, r.reason, r.n),
buried AS (
  INSERT INTO {s}.dead (id, queue, priority, body, reason, failed_at, deliveries)
  SELECT g.id, g.queue, g.priority, g.body, g.reason, clock.t, g.deliveries FROM gone g, clock ORDER BY g.n
  ON CONFLICT (id) DO UPDATE SET n = excluded.n, queue = excluded.queue, priority = excluded.priority,
    body = excluded.body, reason = excluded.reason, failed_at = excluded.failed_at, deliveries = excluded.deliveries),
${COUNT('gone')}
SELECT id, seq, token FROM gone`

/** Throughput buckets older than $1 go. */
export const PRUNE_THROUGHPUT = 'DELETE FROM {s}.throughput WHERE bucket < $1'
