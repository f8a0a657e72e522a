/** Result store statements. `{s}` is the schema. */

const READY = "('SUCCESS', 'FAILURE', 'REVOKED')"

/**
 * The rules of ResultStore.set in the WHERE of one upsert ($1..$12 the records as arrays, $13 the
 * results channel). A null fence is neither higher nor lower than another: never dropped as
 * stale, and a record that is not ready replaces a ready one only when both fences are known and
 * its own is higher. greatest() skips nulls: the highest fence written stays. Each ready record
 * written is announced on the channel (payload: its id) when the statement commits.
 * The ids of one statement must be distinct (an upsert cannot touch a row twice): results.ts
 * splits a batch that repeats an id.
 */
export const SET_RESULTS = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::text[],
                       $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
    AS r(id, state, task, result, error, retries, worker, started_at, done_at, updated_at, expires_at, fence)
), written AS (
  INSERT INTO {s}.results AS old
    (id, state, task, result, error, retries, worker, started_at, done_at, updated_at, expires_at, fence)
  SELECT * FROM input
  ON CONFLICT (id) DO UPDATE SET
    state = excluded.state, task = coalesce(excluded.task, old.task), result = excluded.result,
    error = excluded.error, retries = excluded.retries, worker = excluded.worker,
    started_at = coalesce(excluded.started_at, old.started_at), done_at = excluded.done_at,
    updated_at = excluded.updated_at, expires_at = excluded.expires_at,
    fence = greatest(excluded.fence, old.fence)
  WHERE NOT coalesce(excluded.fence < old.fence, false)
    AND NOT (old.state IN ${READY} AND excluded.state NOT IN ${READY}
             AND NOT coalesce(excluded.fence > old.fence, false))
  RETURNING id, state)
SELECT count(pg_notify($13, id))::int AS woken FROM written WHERE state IN ${READY}`

/** $1 ids; rows of the ids stored and not expired (engine clock). */
export const GET_RESULTS = `
SELECT * FROM {s}.results
 WHERE id = ANY ($1::text[]) AND (expires_at IS NULL OR expires_at > {s}.now_ms())`

/** Per id ($1), forget while the stored fence is at most the bound ($2; null: whatever it is). */
export const FORGET_RESULTS = `
DELETE FROM {s}.results r USING unnest($1::text[], $2::bigint[]) AS f(id, bound)
 WHERE r.id = f.id AND (f.bound IS NULL OR r.fence IS NULL OR r.fence <= f.bound)`

export const CLEANUP_RESULTS = `
DELETE FROM {s}.results WHERE expires_at IS NOT NULL AND expires_at <= {s}.now_ms()`
