/**
 * Migration 3: reserve() takes each queue's first ready jobs by walking the jobs_ready index in
 * order, whatever the table's statistics say.
 *
 * Version 1 picked with `queue = ANY (queues) ORDER BY priority DESC, seq LIMIT n`. PostgreSQL
 * 15 reads no index in order under `= ANY`, and with statistics taken while the table was small
 * (a bulk enqueue outruns autoanalyze) it chose a bitmap scan of every ready row and a sort: with
 * 1,000,000 jobs waiting, each reserve took over a second (220 jobs/s). Now each queue is one
 * ordered index scan that stops after n rows (a LATERAL per queue, merged by priority and seq),
 * bitmap scans are off inside the function so stale statistics cannot bring the sort back, and
 * JIT is off (a plan over a handful of rows never repays compiling it).
 */
export const SQL = `
CREATE OR REPLACE FUNCTION reserve(p_queues text[], p_max integer, p_lease_ms bigint)
RETURNS TABLE (id text, seq bigint, queue text, body text, priority integer, deliveries integer, fence bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_bitmapscan = off SET jit = off AS $$
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
    SELECT c.id FROM unnest(live) AS q(name)
    CROSS JOIN LATERAL (
      SELECT x.id, x.priority, x.seq FROM jobs x WHERE x.state = 0 AND x.queue = q.name
       ORDER BY x.priority DESC, x.seq LIMIT p_max FOR UPDATE SKIP LOCKED) c
    ORDER BY c.priority DESC, c.seq LIMIT p_max)
  UPDATE jobs j SET state = 2, available_at = t + p_lease_ms, token = f, deliveries = j.deliveries + 1
    FROM picked WHERE j.id = picked.id
  RETURNING j.id, j.seq, j.queue, j.body, j.priority, j.deliveries, f;
END $$;
`
