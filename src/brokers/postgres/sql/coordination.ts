/** Coordination statements. `{s}` is the schema; time is the database's clock (now_ms()). */

/**
 * Takes the lock when free or lapsed, or renews it for its owner: $1 name, $2 owner, $3 ttl ms.
 * The fence grows when the lock changes hands (a lapsed lock taken again by the same owner
 * included), never on a renewal. No row comes back when another owner holds it.
 */
export const ACQUIRE_LOCK = `
WITH clock AS (SELECT {s}.now_ms() AS t)
INSERT INTO {s}.locks AS l (name, owner, fence, expires_at)
SELECT $1, $2, 1, clock.t + $3 FROM clock
ON CONFLICT (name) DO UPDATE SET
  owner = excluded.owner,
  fence = CASE WHEN l.owner = excluded.owner AND l.expires_at > excluded.expires_at - $3 THEN l.fence ELSE l.fence + 1 END,
  expires_at = excluded.expires_at
WHERE l.owner IS NULL OR l.expires_at <= excluded.expires_at - $3 OR l.owner = excluded.owner
RETURNING owner, fence, expires_at`

/** $1 name, $2 owner, $3 fence, $4 ttl ms. */
export const RENEW_LOCK = `
UPDATE {s}.locks SET expires_at = {s}.now_ms() + $4
 WHERE name = $1 AND owner = $2 AND fence = $3 AND expires_at > {s}.now_ms()`

/** $1 name, $2 owner, $3 fence. The row stays, so the fence keeps growing. */
export const RELEASE_LOCK = `
UPDATE {s}.locks SET owner = NULL, expires_at = 0
 WHERE name = $1 AND owner = $2 AND fence = $3 AND expires_at > {s}.now_ms()`

/** The join function of migration 1: $1 key, $2 members, $3 ttl ms. */
export const JOIN = 'SELECT size, added FROM {s}.join_add($1::text, $2::text[], $3::bigint)'

export const MEMBERS = `
SELECT m.member FROM {s}.join_members m JOIN {s}.joins j ON j.key = m.key
 WHERE m.key = $1 AND j.expires_at > {s}.now_ms()`

/** Members go with their join (ON DELETE CASCADE). */
export const FORGET_JOINS = 'DELETE FROM {s}.joins WHERE key = ANY ($1::text[])'

/**
 * Housekeeping: joins lapsed a minute ago (the margin keeps it clear of a join() re-creating one
 * that just lapsed) and buckets that are full again, a few at a time.
 */
export const PRUNE_JOINS = `
DELETE FROM {s}.joins WHERE key IN (
  SELECT key FROM {s}.joins WHERE expires_at <= {s}.now_ms() - 60000 LIMIT 100 FOR UPDATE SKIP LOCKED)`
export const PRUNE_BUCKETS = `
DELETE FROM {s}.buckets WHERE key IN (
  SELECT key FROM {s}.buckets WHERE full_at <= {s}.now_ms() LIMIT 100 FOR UPDATE SKIP LOCKED)`

/** The token bucket function of migration 1: $1 key, $2 n, $3 tokens per ms, $4 burst. */
export const TAKE = 'SELECT {s}.take_tokens($1::text, $2, $3, $4) AS wait'

/** The event log function of migration 1: $1 stream, $2 events, $3 max length. */
export const APPEND = 'SELECT id FROM {s}.append_events($1::text, $2::text[], $3::integer) AS id'

/** $1 stream, $2 after id, $3 limit. */
export const READ = 'SELECT id, data FROM {s}.events WHERE stream = $1 AND id > $2 ORDER BY id LIMIT $3'

/** $1 the broadcast channel of the schema, $2 the payload. */
export const BROADCAST = 'SELECT pg_notify($1, $2)'

/** A record is live while this holds (alias r). */
const LIVE = '(r.expires_at IS NULL OR r.expires_at > {s}.now_ms())'

/**
 * Writes records: $1 space, $2 keys, $3 values, $4 ttls ms (null: none); $5 whether to check the
 * lock $6 name, $7 owner, $8 fence. The lock's row is share-locked while the records are written,
 * so it cannot change hands between the check and the commit. Returns whether it wrote.
 */
export const PUT_RECORDS = `
WITH ok AS (
  SELECT NOT $5::boolean OR EXISTS (
    SELECT 1 FROM {s}.locks WHERE name = $6 AND owner = $7 AND fence = $8 AND expires_at > {s}.now_ms() FOR SHARE
  ) AS ok
), written AS (
  INSERT INTO {s}.records (space, key, value, expires_at)
  SELECT $1, w.k, w.v, CASE WHEN w.t IS NULL THEN NULL ELSE {s}.now_ms() + w.t END
    FROM unnest($2::text[], $3::text[], $4::bigint[]) AS w(k, v, t), ok WHERE ok.ok
  ON CONFLICT (space, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
  RETURNING 1
)
SELECT ok.ok, (SELECT count(*) FROM written) AS n FROM ok`

/**
 * Writes one record when absent or lapsed: $1 space, $2 key, $3 value, $4 ttl ms or null. Returns
 * whether it wrote, and the value there before when it did not (null when that row committed
 * after this statement's snapshot: the caller asks again).
 */
export const PUT_RECORD_IF_ABSENT = `
WITH written AS (
  INSERT INTO {s}.records AS r (space, key, value, expires_at)
  VALUES ($1, $2, $3, CASE WHEN $4::bigint IS NULL THEN NULL ELSE {s}.now_ms() + $4 END)
  ON CONFLICT (space, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
    WHERE NOT ${LIVE}
  RETURNING 1
)
SELECT (SELECT count(*) FROM written) AS n,
       (SELECT value FROM {s}.records r WHERE r.space = $1 AND r.key = $2 AND ${LIVE}) AS value`

/** $1 space, $2 keys. */
export const GET_RECORDS = `SELECT r.key, r.value FROM {s}.records r WHERE r.space = $1 AND r.key = ANY ($2::text[]) AND ${LIVE}`

/** $1 space, $2 limit; ordered by code point, as on the other engines. */
export const LIST_RECORDS = `
SELECT r.key, r.value, r.expires_at FROM {s}.records r WHERE r.space = $1 AND ${LIVE}
 ORDER BY r.key COLLATE "C" LIMIT $2`

/** $1 space, $2 keys, $3 the value they must have, or null for any. */
export const REMOVE_RECORDS = `
DELETE FROM {s}.records r WHERE r.space = $1 AND r.key = ANY ($2::text[]) AND ${LIVE}
   AND ($3::text IS NULL OR r.value = $3)`

export const PRUNE_RECORDS = `
DELETE FROM {s}.records WHERE (space, key) IN (
  SELECT space, key FROM {s}.records WHERE expires_at <= {s}.now_ms() LIMIT 100 FOR UPDATE SKIP LOCKED)`
