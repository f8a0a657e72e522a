import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { ResultRecord } from '../../contracts/result-store.js'
import type { TaskState } from '../../core/states.js'
import { EVENTS_STREAM, parseEvent, parseEvents, recordEventHint } from '../../core/events.js'
import { RedisCoordination } from './coordination.js'
import { RAW_RESULT_CHARS, RedisResultStore } from './results.js'
import { RedisConnection } from './shared.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function record(id: string, state: TaskState, extra: Partial<ResultRecord> = {}): ResultRecord {
  const now = Date.now()
  return {
    id,
    state,
    task: 'demo.add',
    result: null,
    error: null,
    retries: 0,
    worker: 'w1',
    startedAt: now,
    doneAt: null,
    updatedAt: now,
    expiresAt: null,
    fence: null,
    ...extra,
  }
}

describe('redis result store', () => {
  const store = new RedisResultStore(url)
  const other = new RedisResultStore(url)
  const raw = new Redis(base)

  before(async () => {
    await store.connect()
    await other.connect()
  })
  after(async () => {
    const keys = await raw.keys(`${prefix}:result:*`)
    if (keys.length) await raw.del(...keys)
    await Promise.all([store.close(), other.close(), raw.quit()])
  })

  it('sets and gets a batch; null for what is not stored', async () => {
    const [a, b] = [randomUUID(), randomUUID()]
    await store.set([record(a, 'STARTED'), record(b, 'SUCCESS', { result: '42', doneAt: Date.now() })])
    const [ra, rb, rc] = await store.get([a, b, randomUUID()])
    assert.equal(ra!.state, 'STARTED')
    assert.deepEqual(rb, (await other.get([b]))[0])
    assert.equal(rb!.result, '42')
    assert.equal(rc, null)
  })

  it('keeps a long result unescaped after the record and reads it back exactly, by get and wait', async () => {
    const [a, b] = [randomUUID(), randomUUID()]
    // Quotes, backslashes, a newline escape, non-ASCII: what escaping inside the JSON would touch.
    const long = JSON.stringify({
      text: 'a "quoted"\n\\ line é 😀 ',
      items: Array.from({ length: 100 }, (_, i) => i),
    })
    assert.ok(long.length >= RAW_RESULT_CHARS)
    const waiting = other.wait(b, { timeoutMs: 5000 })
    await sleep(50)
    await store.set([
      record(a, 'SUCCESS', { result: long, doneAt: Date.now(), fence: 7 }),
      record(b, 'SUCCESS', { result: long, doneAt: Date.now() }),
    ])
    const stored = await raw.get(`${prefix}:result:${a}`)
    assert.ok(stored!.endsWith('\n' + long), 'the result follows the record as it is')
    const [ra] = await store.get([a])
    assert.equal(ra!.result, long)
    assert.equal(ra!.fence, 7)
    assert.equal(ra!.state, 'SUCCESS')
    assert.equal((await waiting)!.result, long)
    // A short result stays inside the record, plain JSON as before.
    const c = randomUUID()
    await store.set([record(c, 'SUCCESS', { result: '"short"', doneAt: Date.now() })])
    const plain = (await raw.get(`${prefix}:result:${c}`))!
    assert.equal((JSON.parse(plain.slice(plain.indexOf(':') + 1)) as ResultRecord).result, '"short"')
  })

  it('reads a long result written inside the record JSON, as before this layout', async () => {
    const id = randomUUID()
    const long = JSON.stringify({ s: 'x"'.repeat(300) })
    const r = record(id, 'SUCCESS', { result: long, doneAt: Date.now() })
    await raw.set(`${prefix}:result:${id}`, '13:' + JSON.stringify(r))
    const [got] = await store.get([id])
    assert.equal(got!.result, long)
    assert.equal(got!.fence, 3)
  })

  it('never replaces a ready state by one that is not ready; ready replaces ready', async () => {
    const id = randomUUID()
    await store.set([record(id, 'SUCCESS', { result: '1' })])
    await store.set([record(id, 'STARTED'), record(id, 'RETRY')])
    assert.equal((await store.get([id]))[0]!.state, 'SUCCESS')
    await store.set([record(id, 'REVOKED')])
    assert.equal((await store.get([id]))[0]!.state, 'REVOKED')
  })

  it('forgets records at expiresAt (TTL in Redis), and on forget()', async () => {
    const [a, b] = [randomUUID(), randomUUID()]
    await store.set([record(a, 'SUCCESS', { expiresAt: Date.now() + 200 }), record(b, 'SUCCESS')])
    const ttl = await raw.pttl(`${prefix}:result:${a}`)
    assert.ok(ttl > 0 && ttl <= 200, `pttl ${ttl}`)
    assert.equal(await raw.pttl(`${prefix}:result:${b}`), -1, 'no expiresAt: kept')
    await sleep(300)
    assert.deepEqual(await store.get([a]), [null])
    assert.equal(await store.cleanup(), 0)
    assert.equal(await store.forget([b, a]), 1)
    assert.deepEqual(await store.get([b]), [null])
  })

  it('wait() is woken through pub/sub by another client', async () => {
    const id = randomUUID()
    await store.set([record(id, 'STARTED')])
    const t0 = Date.now()
    const pending = store.wait(id, { timeoutMs: 5000 })
    await sleep(50)
    await other.set([record(id, 'SUCCESS', { result: '"done"' })])
    const got = await pending
    assert.equal(got!.state, 'SUCCESS')
    assert.ok(Date.now() - t0 < 1000)
  })

  it('wait() does not poll: while it waits only the subscriber connection is used', async () => {
    const id = randomUUID()
    const before = await commandCount(raw, 'mget')
    const got = await store.wait(id, { timeoutMs: 600 })
    assert.equal(got, null)
    // One MGET after subscribing, one at the timeout: no reads in between.
    assert.ok((await commandCount(raw, 'mget')) - before <= 3)
  })

  it('wait() returns at once when the result is already ready', async () => {
    const id = randomUUID()
    await store.set([record(id, 'FAILURE', { error: '"boom"' })])
    const t0 = Date.now()
    assert.equal((await store.wait(id, { timeoutMs: 5000 }))!.state, 'FAILURE')
    assert.ok(Date.now() - t0 < 500)
  })

  it('wait() times out with the latest record, and ends early on abort', async () => {
    const id = randomUUID()
    await store.set([record(id, 'STARTED')])
    const t0 = Date.now()
    assert.equal((await store.wait(id, { timeoutMs: 200 }))!.state, 'STARTED')
    assert.ok(Date.now() - t0 >= 190)
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const t1 = Date.now()
    assert.equal((await store.wait(id, { timeoutMs: 5000, signal: ac.signal }))!.state, 'STARTED')
    assert.ok(Date.now() - t1 < 1000)
  })

  it('many waiters on one id share one subscription and all wake', async () => {
    const id = randomUUID()
    const waits = Array.from({ length: 5 }, () => store.wait(id, { timeoutMs: 5000 }))
    await sleep(50)
    await other.set([record(id, 'SUCCESS')])
    const got = await Promise.all(waits)
    assert.ok(got.every((r) => r?.state === 'SUCCESS'))
  })

  it('fences writes: a lower fence is dropped, a higher one may replace a ready state', async () => {
    const id = randomUUID()
    const state = async () => {
      const [r] = await store.get([id])
      return [r!.state, r!.fence, r!.worker]
    }
    await store.set([record(id, 'STARTED', { fence: 3, worker: 'a' })])
    await store.set([record(id, 'SUCCESS', { fence: 2, worker: 'stale' })])
    assert.deepEqual(await state(), ['STARTED', 3, 'a'], 'a stale delivery writes nothing')
    await store.set([record(id, 'SUCCESS', { fence: 3, worker: 'a' })])
    await store.set([record(id, 'RETRY', { fence: 3, worker: 'late' })])
    assert.deepEqual(await state(), ['SUCCESS', 3, 'a'], 'same fence: ready stays')
    await store.set([record(id, 'STARTED', { fence: 4, worker: 'b' })])
    assert.deepEqual(await state(), ['STARTED', 4, 'b'], 'a later delivery runs again')
    await store.set([record(id, 'REVOKED', { worker: 'operator' })])
    assert.deepEqual(await state(), ['REVOKED', 4, 'operator'], 'unfenced: the highest fence is kept')
    await store.set([record(id, 'STARTED', { worker: 'unfenced' })])
    assert.deepEqual(await state(), ['REVOKED', 4, 'operator'])
    await store.set([record(id, 'FAILURE', { fence: 3 })])
    assert.deepEqual(await state(), ['REVOKED', 4, 'operator'])
    await assert.rejects(store.set([record(id, 'SUCCESS', { fence: -1 })]), RangeError)
  })

  it('forget with upToFence spares a record written by a later delivery', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()]
    await store.set([
      record(a, 'FAILURE', { fence: 5 }),
      record(b, 'FAILURE', { fence: 2 }),
      record(c, 'REVOKED'),
    ])
    assert.equal(await store.forget([a, b, c], { upToFence: [4, 2, 1] }), 2)
    const [ra, rb, rc] = await store.get([a, b, c])
    assert.equal(ra!.fence, 5)
    assert.deepEqual([rb, rc], [null, null])
    assert.equal(await store.forget([a], { upToFence: [null] }), 1)
    await assert.rejects(store.forget([a, b], { upToFence: [1] }), RangeError)
  })

  it('wait() without a timeout (absent or Infinity) waits until the record is ready', async () => {
    const [a, b] = [randomUUID(), randomUUID()]
    let settled = 0
    const waits = [store.wait(a, {}), store.wait(b, { timeoutMs: Infinity })]
    for (const w of waits) void w.then(() => settled++)
    await sleep(300)
    assert.equal(settled, 0, 'still waiting')
    await other.set([record(a, 'SUCCESS'), record(b, 'FAILURE')])
    const got = await Promise.all(waits)
    assert.deepEqual(
      got.map((r) => r?.state),
      ['SUCCESS', 'FAILURE'],
    )
    const ac = new AbortController()
    const aborted = store.wait(randomUUID(), { signal: ac.signal })
    await sleep(50)
    ac.abort()
    assert.equal(await aborted, null)
  })
})

/** Calls of one command served by the server so far (INFO commandstats). */
async function commandCount(redis: Redis, command: string): Promise<number> {
  const info = await redis.info('commandstats')
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)
  return m ? Number(m[1]) : 0
}

describe('redis result store: outcome events riding on result writes', () => {
  const raw = new Redis(base)
  after(() => raw.quit())
  /** A result store and a log on one connection of a fresh prefix. */
  const sharedConnection = () => {
    const p = `celeriac-test-${randomUUID().slice(0, 8)}`
    const conn = new RedisConnection(`${base}${base.includes('?') ? '&' : '?'}prefix=${p}`)
    return { p, conn, results: new RedisResultStore(conn), log: new RedisCoordination(conn) }
  }
  const dropAll = async (p: string) => {
    const keys = await raw.keys(`*${p}*`)
    if (keys.length) await raw.del(...keys)
  }

  it('writes them with the records into a log on the same connection; none for a fenced-out record', async () => {
    const { p, conn, results, log } = sharedConnection()
    const elsewhere = new RedisCoordination(url)
    await Promise.all([results.connect(), log.connect()])
    try {
      assert.equal(results.writesEventsTo(log), true)
      assert.equal(results.writesEventsTo(elsewhere), false, 'another connection: the caller appends')
      const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
      const long = 'x'.repeat(RAW_RESULT_CHARS * 2)
      await results.set([record(c, 'SUCCESS', { result: '1', doneAt: Date.now(), fence: 9 })])
      const t = Date.now()
      await results.set(
        [
          record(a, 'SUCCESS', { result: long, startedAt: t - 5, doneAt: t, fence: 3 }),
          record(b, 'FAILURE', { error: '{"message":"boom"}', startedAt: t - 2, doneAt: t, fence: 4 }),
          record(c, 'SUCCESS', { result: '2', doneAt: t, fence: 8 }),
          record(d, 'RETRY', { startedAt: t - 1, fence: 1 }),
        ],
        {
          stream: EVENTS_STREAM,
          maxLen: 100,
          hints: [
            recordEventHint(0, t - 9, 'q1', '[[1],{}]', undefined),
            recordEventHint(2, 0, 'q2', undefined, 'failed: Error: boom'),
            recordEventHint(0, t - 9, 'q1', '[[],{}]', undefined),
            null,
          ],
        },
      )
      const entries = await log.read(EVENTS_STREAM, null, 100)
      // c's write is fenced out (8 < 9): no event; d has no hint. a and b share one entry.
      assert.equal(entries.length, 1)
      assert.ok(
        entries.every((e) => !e.data.includes(long)),
        'a long result stays out of the log',
      )
      // parseEvent gives the entry's first stored outcome, folded; parseEvents expands them all.
      assert.equal(parseEvent(entries[0]!.data)?.type, 'task-succeeded')
      assert.equal(parseEvent(entries[0]!.data)?.receivedAt, t - 9)
      const events = entries.flatMap((e) => parseEvents(e.data))
      assert.deepEqual(
        events.map((e) => `${e.id === a ? 'a' : 'b'} ${e.type} ${e.queue}`),
        ['a task-received q1', 'a task-started q1', 'a task-succeeded q1', 'b task-failed q2'],
      )
      assert.deepEqual(
        [
          events[0]!.at,
          events[1]!.at,
          events[1]!.args,
          events[2]!.at,
          events[2]!.runtimeMs,
          events[2]!.fence,
        ],
        [t - 9, t - 5, '[[1],{}]', t, 5, 3],
      )
      assert.equal(events[3]!.reason, 'failed: Error: boom')
      assert.equal(events[3]!.worker, 'w1')
      assert.equal(events[3]!.task, 'demo.add')
      await assert.rejects(
        results.set([record(randomUUID(), 'SUCCESS')], { stream: EVENTS_STREAM, maxLen: 100, hints: [] }),
        /1 records/,
      )
      await assert.rejects(
        results.set([record(randomUUID(), 'SUCCESS')], {
          stream: EVENTS_STREAM,
          maxLen: 100,
          hints: ['0\n1'],
        }),
        /holds a newline/,
      )
    } finally {
      await dropAll(p)
      await Promise.all([results.close(), log.close(), elsewhere.close()])
      await conn.close()
    }
  })

  it('stores a hint shared by the records after it once; a fenced-out first record keeps its line, marked dropped', async () => {
    const { p, conn, results, log } = sharedConnection()
    await Promise.all([results.connect(), log.connect()])
    try {
      const t = Date.now()
      const ids = Array.from({ length: 5 }, () => randomUUID())
      const hint = recordEventHint(0, t - 7, 'shared', '[[],null]', undefined)
      // The first record's write is fenced out: the hint the others share goes with it, unless
      // written out again.
      await results.set([record(ids[0]!, 'SUCCESS', { result: '1', doneAt: t, fence: 9 })])
      await results.set(
        ids.map((id, i) =>
          record(id, 'SUCCESS', { result: '2', startedAt: t - 3, doneAt: t, fence: i ? 1 : 2 }),
        ),
        { stream: EVENTS_STREAM, maxLen: 100, hints: ids.map(() => hint) },
      )
      // A second batch, every record written: its entry holds the hint once.
      const more = Array.from({ length: 3 }, () => randomUUID())
      await results.set(
        more.map((id) => record(id, 'SUCCESS', { result: '3', startedAt: t - 3, doneAt: t })),
        { stream: EVENTS_STREAM, maxLen: 100, hints: more.map(() => hint) },
      )
      const raw2 = await raw.xrange(`{${p}:events:${EVENTS_STREAM}}`, '-', '+')
      assert.equal(raw2[1]![1][3], `${hint}\n\n`, 'the hint once, then empty lines')
      // The fenced-out record keeps its line, marked dropped: hints and lines stay paired.
      assert.equal(raw2[0]![1][3], `${hint}\n\n\n\n`, 'the hints as sent')
      const lines = raw2[0]![1][5]!.split('\n')
      assert.equal(raw2[0]![1][1], '4', 'four events')
      assert.deepEqual(
        lines.map((l) => l.startsWith('-')),
        [true, false, false, false, false],
        'the first line marked dropped',
      )
      assert.equal(lines[1]!.split('\t')[2], '', 'the task given once, on the dropped line')
      const events = (await log.read(EVENTS_STREAM, null, 100)).flatMap((e) => parseEvents(e.data))
      const received = events.filter((e) => e.type === 'task-received')
      assert.deepEqual(
        received.map((e) => e.id),
        [...ids.slice(1), ...more],
      )
      assert.ok(received.every((e) => e.at === t - 7 && e.queue === 'shared'))
      assert.equal(events.filter((e) => e.type === 'task-succeeded').length, 7)
    } finally {
      await dropAll(p)
      await Promise.all([results.close(), log.close()])
      await conn.close()
    }
  })

  it('bounds the log in events, an entry holding up to 32 outcomes, appends counted alike', async () => {
    const { p, conn, results, log } = sharedConnection()
    await Promise.all([results.connect(), log.connect()])
    const batch = async (k: number, maxLen: number) => {
      const t = Date.now()
      const ids = Array.from({ length: k }, () => randomUUID())
      await results.set(
        ids.map((id) => record(id, 'SUCCESS', { result: '1', startedAt: t - 1, doneAt: t })),
        {
          stream: EVENTS_STREAM,
          maxLen,
          hints: ids.map(() => recordEventHint(2, 0, 'q', undefined, undefined)),
        },
      )
      return ids
    }
    const held = async () => {
      const entries = await log.read(EVENTS_STREAM, null, 10_000)
      return { entries, events: entries.flatMap((e) => parseEvents(e.data)) }
    }
    try {
      const first = await batch(70, 1000)
      let h = await held()
      assert.deepEqual(
        h.entries.map((e) => parseEvents(e.data).length),
        [32, 32, 6],
        'lines of up to 32 outcomes an entry',
      )
      assert.deepEqual(
        h.events.map((e) => e.id),
        first,
        'every outcome, in order',
      )
      assert.equal(await raw.get(`{${p}:events:${EVENTS_STREAM}}:n`), '70')
      // A bound of 50 events drops the oldest whole entries: 32 go, 38 stay.
      const second = await batch(20, 50)
      h = await held()
      assert.equal(h.events.length, 38 + 20 - 32, 'the first 32 and then the next 32 dropped')
      assert.deepEqual(
        h.events.map((e) => e.id),
        [...first.slice(64), ...second],
      )
      // Appends (one event an entry) count in the same bound.
      await log.append(
        EVENTS_STREAM,
        Array.from({ length: 30 }, (_, i) => `e${i}`),
        40,
      )
      h = await held()
      assert.ok(h.entries.length <= 40, `${h.entries.length} entries`)
      const total = h.entries.reduce(
        (n, e) => n + (e.data.startsWith('R') ? parseEvents(e.data).length : 1),
        0,
      )
      assert.ok(total <= 40 && total > 40 - 32, `${total} events held`)
      assert.equal(await raw.get(`{${p}:events:${EVENTS_STREAM}}:n`), String(total))
      // A deleted log starts counting again from nothing.
      await raw.del(`{${p}:events:${EVENTS_STREAM}}`)
      await batch(3, 1000)
      assert.equal(await raw.get(`{${p}:events:${EVENTS_STREAM}}:n`), '3')
      // Passing the bound trims to 90 % of it, so the next writes add without trimming: 40
      // entries of one event, then one more past a bound of 40 leaves 36.
      await raw.del(`{${p}:events:${EVENTS_STREAM}}`)
      for (let i = 0; i < 40; i++) await batch(1, 1000)
      const last = await batch(1, 40)
      assert.equal(await raw.get(`{${p}:events:${EVENTS_STREAM}}:n`), '36')
      await batch(1, 40)
      assert.equal(await raw.get(`{${p}:events:${EVENTS_STREAM}}:n`), '37')
      const kept = (await held()).events.map((e) => e.id)
      assert.equal(kept.length, 37)
      assert.equal(kept[35], last[0], 'the newest kept, the oldest dropped')
    } finally {
      await dropAll(p)
      await Promise.all([results.close(), log.close()])
      await conn.close()
    }
  })
})
