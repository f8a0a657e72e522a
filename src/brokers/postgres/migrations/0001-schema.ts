/**
 * Migration 1: the tables and functions of the first schema. Runs inside the migration
 * transaction with `search_path` set to celeriac's schema, so names here are unqualified; the
 * functions capture that search_path (SET search_path FROM CURRENT), so they find their tables
 * whatever the caller's search_path is.
 *
 * A job is one row of `jobs`, its `state` saying where it is: 0 ready (ordered by priority, then
 * seq), 1 delayed until available_at, 2 leased until available_at. Settled jobs are deleted, not
 * flagged, so the table holds only live work; see ../README.md for how bloat is kept down.
 */
export const SQL = `
CREATE FUNCTION now_ms() RETURNS bigint LANGUAGE sql VOLATILE
  AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- A job's place in line: new jobs, retries and due delayed jobs take the next value (the back);
-- released jobs and expired leases keep theirs (their old place).
CREATE SEQUENCE job_seq;
-- Fences: one value per reserve statement, so a later delivery of a job always has a higher one.
CREATE SEQUENCE fence_seq;

CREATE TABLE jobs (
  id           text     PRIMARY KEY,
  seq          bigint   NOT NULL DEFAULT nextval('job_seq'),
  queue        text     NOT NULL,
  priority     integer  NOT NULL DEFAULT 0,
  state        smallint NOT NULL DEFAULT 0,
  available_at bigint   NOT NULL DEFAULT 0,
  token        bigint   NOT NULL DEFAULT 0,
  deliveries   integer  NOT NULL DEFAULT 0,
  body         text     NOT NULL
) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02,
        autovacuum_vacuum_cost_delay = 0);
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, seq) WHERE state = 0;
CREATE INDEX jobs_due ON jobs (queue, available_at) WHERE state <> 0;

CREATE SEQUENCE dead_seq;
CREATE TABLE dead (
  id         text    PRIMARY KEY,
  n          bigint  NOT NULL DEFAULT nextval('dead_seq'),
  queue      text    NOT NULL,
  priority   integer NOT NULL,
  body       text    NOT NULL,
  reason     text    NOT NULL,
  failed_at  bigint  NOT NULL,
  deliveries integer NOT NULL
);
CREATE INDEX dead_failed ON dead (failed_at DESC, n DESC);
CREATE INDEX dead_queue ON dead (queue, failed_at DESC, n DESC);

CREATE TABLE queues (name text PRIMARY KEY);
CREATE TABLE paused (queue text PRIMARY KEY);
-- Settled counts per 10 s bucket, spread over a few shards so that workers acking the same queue
-- at once rarely wait on one row. n is not indexed: its updates are HOT.
CREATE TABLE throughput (
  queue  text     NOT NULL,
  bucket bigint   NOT NULL,
  shard  smallint NOT NULL,
  n      bigint   NOT NULL,
  PRIMARY KEY (queue, bucket, shard)
) WITH (fillfactor = 50);

CREATE TABLE results (
  id         text    PRIMARY KEY,
  state      text    NOT NULL,
  task       text,
  result     text,
  error      text,
  retries    integer NOT NULL DEFAULT 0,
  worker     text,
  started_at bigint,
  done_at    bigint,
  updated_at bigint  NOT NULL,
  expires_at bigint,
  fence      bigint
) WITH (fillfactor = 80);
CREATE INDEX results_expires ON results (expires_at) WHERE expires_at IS NOT NULL;

-- Coordination. A lock's row stays after release so its fence keeps growing.
CREATE TABLE locks (
  name       text   PRIMARY KEY,
  owner      text,
  fence      bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE TABLE joins (key text PRIMARY KEY, expires_at bigint NOT NULL);
CREATE INDEX joins_expires ON joins (expires_at);
CREATE TABLE join_members (
  key    text NOT NULL REFERENCES joins (key) ON DELETE CASCADE,
  member text NOT NULL,
  PRIMARY KEY (key, member)
);
-- A bucket without a row is full; full_at says when a row may go.
CREATE TABLE buckets (
  key        text             PRIMARY KEY,
  tokens     double precision NOT NULL,
  updated_at bigint           NOT NULL,
  full_at    bigint           NOT NULL
);
CREATE INDEX buckets_full ON buckets (full_at);
CREATE TABLE events (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream text   NOT NULL,
  data   text   NOT NULL
);
CREATE INDEX events_stream ON events (stream, id);

-- Reserve: expired leases back to ready in their old place, due delayed jobs to the back in the
-- order they came due, then the first max ready jobs leased under one new fence. Rows another
-- reserve holds are skipped, never waited for, so concurrent consumers neither block nor deadlock.
CREATE FUNCTION reserve(p_queues text[], p_max integer, p_lease_ms bigint)
RETURNS TABLE (id text, seq bigint, queue text, body text, priority integer, deliveries integer, fence bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  t bigint := now_ms();
  live text[];
  f bigint;
BEGIN
  SELECT array_agg(q) INTO live FROM unnest(p_queues) AS q
   WHERE NOT EXISTS (SELECT 1 FROM paused p WHERE p.queue = q);
  IF live IS NULL THEN RETURN; END IF;
  UPDATE jobs j SET state = 0, token = 0
    FROM (SELECT x.id FROM jobs x
           WHERE x.state <> 0 AND x.state = 2 AND x.queue = ANY (live) AND x.available_at <= t
           FOR UPDATE SKIP LOCKED) e
   WHERE j.id = e.id;
  UPDATE jobs j SET state = 0, available_at = 0, seq = d.new_seq
    FROM (SELECT x.id, nextval('job_seq') AS new_seq
            FROM (SELECT y.id FROM jobs y
                   WHERE y.state <> 0 AND y.state = 1 AND y.queue = ANY (live) AND y.available_at <= t
                   ORDER BY y.available_at, y.seq
                   FOR UPDATE SKIP LOCKED) x) d
   WHERE j.id = d.id;
  f := nextval('fence_seq');
  RETURN QUERY
  WITH picked AS (
    SELECT x.id FROM jobs x WHERE x.state = 0 AND x.queue = ANY (live)
     ORDER BY x.priority DESC, x.seq LIMIT p_max FOR UPDATE SKIP LOCKED)
  UPDATE jobs j SET state = 2, available_at = t + p_lease_ms, token = f, deliveries = j.deliveries + 1
    FROM picked WHERE j.id = picked.id
  RETURNING j.id, j.seq, j.queue, j.body, j.priority, j.deliveries, f;
END $$;

-- Joins: members added to a set that lapses ttl after its last change. The join row is locked
-- first, so concurrent calls on one key take turns and exactly one sees the set complete.
CREATE FUNCTION join_add(p_key text, p_members text[], p_ttl_ms bigint, OUT size integer, OUT added integer)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  t bigint := now_ms();
BEGIN
  INSERT INTO joins (key, expires_at) VALUES (p_key, t + p_ttl_ms) ON CONFLICT (key) DO NOTHING;
  IF (SELECT expires_at FROM joins WHERE key = p_key FOR UPDATE) <= t THEN
    DELETE FROM join_members WHERE key = p_key;
  END IF;
  UPDATE joins SET expires_at = t + p_ttl_ms WHERE key = p_key;
  INSERT INTO join_members (key, member) SELECT DISTINCT p_key, m FROM unnest(p_members) AS m
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS added = ROW_COUNT;
  SELECT count(*) INTO size FROM join_members WHERE key = p_key;
END $$;

-- Token buckets: 0 when n tokens were taken, else the ms until they would be there.
CREATE FUNCTION take_tokens(p_key text, p_n double precision, p_per_ms double precision, p_burst double precision)
RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  t bigint;
  have double precision;
  since bigint;
  rest double precision;
BEGIN
  INSERT INTO buckets (key, tokens, updated_at, full_at) VALUES (p_key, p_burst, now_ms(), 0)
    ON CONFLICT (key) DO NOTHING;
  SELECT tokens, updated_at INTO have, since FROM buckets WHERE key = p_key FOR UPDATE;
  t := now_ms();
  have := least(p_burst, have + greatest(0, t - since) * p_per_ms);
  IF have < p_n THEN RETURN ceil((p_n - have) / p_per_ms)::bigint; END IF;
  rest := have - p_n;
  UPDATE buckets SET tokens = rest, updated_at = t, full_at = t + ceil((p_burst - rest) / p_per_ms)::bigint
   WHERE key = p_key;
  RETURN 0;
END $$;

-- The event log: appends to one stream take turns (a transaction-level advisory lock), so ids
-- commit in the order they were drawn and a reader past id n never misses a later commit below n.
CREATE FUNCTION append_events(p_stream text, p_data text[], p_max_len integer)
RETURNS SETOF bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || '.events:' || p_stream, 0));
  RETURN QUERY INSERT INTO events (stream, data)
    SELECT p_stream, d FROM unnest(p_data) WITH ORDINALITY AS x(d, n) ORDER BY n RETURNING id;
  DELETE FROM events WHERE stream = p_stream AND id <= (
    SELECT e.id FROM events e WHERE e.stream = p_stream ORDER BY e.id DESC OFFSET greatest(p_max_len, 0) LIMIT 1);
END $$;
`
