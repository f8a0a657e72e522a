/**
 * The result store conformance suite. Every result store runs it unchanged:
 *   resultStoreConformance({ name: 'sqlite', open: () => ... })
 * `open()` returns a new, connected client of the same store (for networked stores, a new
 * connection), so a write by one client and a wait on another exercise the real path between
 * them. Each test uses fresh random ids, so a store need not be emptied between tests.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import type { ResultRecord, ResultStore } from '../../src/contracts/result-store.js'
import type { TaskState } from '../../src/core/states.js'

export interface ResultStoreTarget {
  readonly name: string
  open(): Promise<ResultStore>
}

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
    worker: 'host-1',
    startedAt: now,
    doneAt: state === 'SUCCESS' || state === 'FAILURE' || state === 'REVOKED' ? now : null,
    updatedAt: now,
    expiresAt: null,
    fence: null,
    ...extra,
  }
}

/** A promise's outcome so far, without waiting for it. */
function watch<T>(p: Promise<T>): { readonly settled: boolean; readonly promise: Promise<T> } {
  const state = { settled: false, promise: p }
  p.then(
    () => (state.settled = true),
    () => (state.settled = true),
  )
  return state
}

export function resultStoreConformance(target: ResultStoreTarget): void {
  describe(`result store conformance: ${target.name}`, () => {
    const opened: ResultStore[] = []
    const open = async () => {
      const s = await target.open()
      opened.push(s)
      return s
    }
    after(async () => {
      await Promise.all(opened.map((s) => s.close()))
    })

    async function stateOf(s: ResultStore, id: string): Promise<[TaskState | undefined, number | null]> {
      const [r] = await s.get([id])
      return [r?.state, r ? r.fence : null]
    }

    it('sets and gets a batch; null for ids never stored', async () => {
      const s = await open()
      const [a, b, unknown] = [randomUUID(), randomUUID(), randomUUID()]
      await s.set([record(a, 'STARTED'), record(b, 'SUCCESS', { result: '42' })])
      const got = await s.get([a, unknown, b])
      assert.equal(got[0]?.state, 'STARTED')
      assert.equal(got[1], null)
      assert.equal(got[2]?.state, 'SUCCESS')
      assert.equal(got[2]?.result, '42')
      assert.deepEqual(await s.get([]), [])
    })

    it('writes and reads 500 records in one batch, read back by another client', async () => {
      const [w, r] = [await open(), await open()]
      const recs = Array.from({ length: 500 }, (_, i) => record(randomUUID(), 'SUCCESS', { result: `${i}` }))
      await w.set(recs)
      const got = await r.get(recs.map((x) => x.id))
      assert.deepEqual(
        got.map((x) => x?.result),
        recs.map((x) => x.result),
      )
    })

    it('round-trips every field of a record in every state', async () => {
      const [w, r] = [await open(), await open()]
      const states: TaskState[] = ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED']
      const recs = states.map((state, i) =>
        record(randomUUID(), state, {
          task: `tasks.t${i}`,
          result: state === 'SUCCESS' ? '{"v":[1,"two",null]}' : null,
          error:
            state === 'FAILURE' || state === 'RETRY' || state === 'REVOKED' ? `{"message":"e${i}"}` : null,
          retries: i,
          worker: `host-${i}@${1000 + i}`,
          startedAt: 1_700_000_000_000 + i,
          doneAt: ['SUCCESS', 'FAILURE', 'REVOKED'].includes(state) ? 1_700_000_001_000 + i : null,
          updatedAt: 1_700_000_002_000 + i,
          expiresAt: Date.now() + 3_600_000 + i,
          fence: i % 2 ? 10 + i : null,
        }),
      )
      await w.set(recs)
      assert.deepEqual(await r.get(recs.map((x) => x.id)), recs)
    })

    it('a state that is not ready never replaces a ready one; a ready one replaces anything', async () => {
      const s = await open()
      const [a, b] = [randomUUID(), randomUUID()]
      await s.set([record(a, 'STARTED'), record(a, 'RETRY', { retries: 1 })])
      assert.deepEqual(await stateOf(s, a), ['RETRY', null], 'not ready over not ready')
      await s.set([record(a, 'SUCCESS', { result: '1' })])
      await s.set([record(a, 'STARTED'), record(a, 'RETRY')])
      assert.deepEqual(await stateOf(s, a), ['SUCCESS', null], 'a late STARTED cannot hide a result')
      await s.set([record(a, 'FAILURE', { error: 'x' })])
      assert.deepEqual(await stateOf(s, a), ['FAILURE', null], 'ready over ready')
      // Record by record within one batch, too.
      await s.set([record(b, 'STARTED'), record(b, 'SUCCESS'), record(b, 'STARTED')])
      assert.deepEqual(await stateOf(s, b), ['SUCCESS', null])
    })

    it('drops a fenced write whose fence is lower than the stored one', async () => {
      const s = await open()
      const id = randomUUID()
      await s.set([record(id, 'STARTED', { fence: 5 })])
      await s.set([record(id, 'SUCCESS', { fence: 4, result: 'stale' })])
      assert.deepEqual(await stateOf(s, id), ['STARTED', 5], 'a stale delivery cannot write a result')
      await s.set([record(id, 'RETRY', { fence: 5 })])
      assert.deepEqual(await stateOf(s, id), ['RETRY', 5], 'the same fence writes')
      await s.set([record(id, 'SUCCESS', { fence: 6, result: 'new' })])
      assert.deepEqual(await stateOf(s, id), ['SUCCESS', 6])
    })

    it('a not-ready write does not replace a ready one of the same or higher fence; with a higher fence it does', async () => {
      const s = await open()
      const id = randomUUID()
      await s.set([record(id, 'FAILURE', { fence: 5, error: 'boom' })])
      await s.set([record(id, 'STARTED', { fence: 5 })])
      assert.deepEqual(await stateOf(s, id), ['FAILURE', 5], 'same fence')
      await s.set([record(id, 'STARTED', { fence: 3 })])
      assert.deepEqual(await stateOf(s, id), ['FAILURE', 5], 'lower fence')
      // The job was replayed: its new run writes a higher fence and must be seen running.
      await s.set([record(id, 'STARTED', { fence: 8 })])
      const [r] = await s.get([id])
      assert.equal(r?.state, 'STARTED')
      assert.equal(r?.fence, 8)
      assert.equal(r?.error, null, 'the whole record is replaced')
    })

    it('a write without a fence is never fenced off, and the highest fence written is kept', async () => {
      const s = await open()
      const id = randomUUID()
      await s.set([record(id, 'STARTED', { fence: 7 })])
      await s.set([record(id, 'REVOKED', { fence: null, error: 'revoked' })])
      assert.deepEqual(await stateOf(s, id), ['REVOKED', 7], 'applied, fence 7 kept')
      await s.set([record(id, 'SUCCESS', { fence: 6 })])
      assert.deepEqual(await stateOf(s, id), ['REVOKED', 7], 'fence 7 still fences off fence 6')
      await s.set([record(id, 'STARTED', { fence: null })])
      assert.deepEqual(await stateOf(s, id), ['REVOKED', 7], 'unfenced not-ready does not replace ready')
      const other = randomUUID()
      await s.set([record(other, 'STARTED', { fence: null })])
      await s.set([record(other, 'SUCCESS', { fence: 2 })])
      assert.deepEqual(await stateOf(s, other), ['SUCCESS', 2], 'a fenced write over an unfenced record')
    })

    it('concurrent fenced writes from several clients: the highest fence wins', async () => {
      const clients = await Promise.all(Array.from({ length: 5 }, () => open()))
      const ids = Array.from({ length: 20 }, () => randomUUID())
      // Each client writes every id with its own fence, in a shuffled order of batches.
      await Promise.all(
        clients.map(async (c, i) => {
          await sleep(Math.random() * 20)
          await c.set(ids.map((id) => record(id, 'SUCCESS', { fence: i + 1, result: `${i + 1}` })))
        }),
      )
      const got = await clients[0]!.get(ids)
      assert.ok(
        got.every((r) => r?.fence === 5 && r.result === '5'),
        'every record holds the write of fence 5',
      )
    })

    it('forgets records and says how many were removed', async () => {
      const [w, f] = [await open(), await open()]
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()]
      await w.set([record(a, 'SUCCESS'), record(b, 'STARTED', { fence: 3 }), record(c, 'FAILURE')])
      assert.equal(await f.forget([a, b, randomUUID()]), 2)
      assert.deepEqual(
        (await w.get([a, b, c])).map((r) => r?.state ?? null),
        [null, null, 'FAILURE'],
      )
      assert.equal(await f.forget([a]), 0, 'forgetting again removes nothing')
      assert.equal(await f.forget([]), 0)
    })

    it('forgets only up to a fence, per id, so a replayed run is not erased', async () => {
      const s = await open()
      const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
      await s.set([
        record(a, 'STARTED', { fence: 5 }),
        record(b, 'FAILURE', { fence: 5 }),
        record(c, 'SUCCESS', { fence: 9 }),
        record(d, 'SUCCESS', { fence: 2 }),
      ])
      assert.equal(await s.forget([a, b, c, d], { upToFence: [4, 5, null, 1] }), 2)
      assert.deepEqual(
        (await s.get([a, b, c, d])).map((r) => r?.state ?? null),
        ['STARTED', null, null, 'SUCCESS'],
        'a (fence 5 > 4) and d (2 > 1) stay; b (5 <= 5) and c (any fence) go',
      )
    })

    it('expires records: get returns null, cleanup deletes them and keeps the others', async () => {
      const s = await open()
      const soon = Date.now() + 300
      const expiring = Array.from({ length: 3 }, () => record(randomUUID(), 'SUCCESS', { expiresAt: soon }))
      const kept = [
        record(randomUUID(), 'SUCCESS', { expiresAt: Date.now() + 3_600_000 }),
        record(randomUUID(), 'SUCCESS', { expiresAt: null }),
      ]
      await s.set([...expiring, ...kept])
      assert.equal((await s.get([expiring[0]!.id]))[0]?.state, 'SUCCESS', 'there until it expires')
      await sleep(400)
      const n = await s.cleanup()
      // An engine that expires records itself (Redis) has nothing left to delete.
      assert.ok(n === 0 || n === 3, `cleanup counted ${n}`)
      assert.deepEqual(
        (await s.get([...expiring, ...kept].map((r) => r.id))).map((r) => r?.id ?? null),
        [null, null, null, ...kept.map((r) => r.id)],
      )
      assert.equal(await s.cleanup(), 0, 'nothing left to clean')
    })

    it('wait returns a record that is ready already, at once', async () => {
      const s = await open()
      const id = randomUUID()
      await s.set([record(id, 'SUCCESS', { result: '7' })])
      const t0 = Date.now()
      const r = await s.wait(id, { timeoutMs: 5000 })
      assert.equal(r?.result, '7')
      assert.ok(Date.now() - t0 < 1000)
    })

    it('wait resolves on a ready write from another client, not on a write that is not ready', async () => {
      const [waiter, writer] = [await open(), await open()]
      const id = randomUUID()
      const pending = watch(waiter.wait(id, { timeoutMs: 10_000 }))
      await sleep(150)
      await writer.set([record(id, 'STARTED')])
      await sleep(300)
      assert.equal(pending.settled, false, 'STARTED does not end the wait')
      const t0 = Date.now()
      await writer.set([record(id, 'SUCCESS', { result: 'done' })])
      const r = await pending.promise
      assert.equal(r?.result, 'done')
      assert.ok(Date.now() - t0 < 1500, `woken after ${Date.now() - t0} ms`)
    })

    it('wait returns the latest record, or null, when the timeout passes', async () => {
      const [waiter, writer] = [await open(), await open()]
      const [id, unknown] = [randomUUID(), randomUUID()]
      await writer.set([record(id, 'STARTED')])
      const t0 = Date.now()
      const [r, none] = await Promise.all([
        waiter.wait(id, { timeoutMs: 300 }),
        waiter.wait(unknown, { timeoutMs: 300 }),
      ])
      const took = Date.now() - t0
      assert.equal(r?.state, 'STARTED')
      assert.equal(none, null)
      assert.ok(took >= 250 && took < 2000, `returned after ${took} ms`)
    })

    // Node fires setTimeout(fn, Infinity) after 1 ms: a wait built on it ended almost at once.
    for (const [label, options] of [
      ['absent', {}],
      ['Infinity', { timeoutMs: Infinity }],
    ] as const) {
      it(`wait with timeoutMs ${label} waits until the record is ready`, async () => {
        const [waiter, writer] = [await open(), await open()]
        const id = randomUUID()
        const pending = watch(waiter.wait(id, options))
        await sleep(300)
        assert.equal(pending.settled, false, 'still waiting after 300 ms')
        await writer.set([record(id, 'FAILURE', { error: 'e' })])
        assert.equal((await pending.promise)?.state, 'FAILURE')
      })
    }

    it('wait ends when its signal aborts, with the latest record', async () => {
      const [waiter, writer] = [await open(), await open()]
      const id = randomUUID()
      await writer.set([record(id, 'STARTED')])
      const ac = new AbortController()
      const pending = watch(waiter.wait(id, { signal: ac.signal }))
      await sleep(150)
      assert.equal(pending.settled, false)
      const t0 = Date.now()
      ac.abort()
      assert.equal((await pending.promise)?.state, 'STARTED')
      assert.ok(Date.now() - t0 < 1000, 'ended promptly')
      const pre = new AbortController()
      pre.abort()
      assert.equal((await waiter.wait(id, { signal: pre.signal }))?.state, 'STARTED', 'already aborted')
    })

    it('several waiters on several clients all wake on one write', async () => {
      const waiters = await Promise.all(Array.from({ length: 3 }, () => open()))
      const writer = await open()
      const id = randomUUID()
      const pending = waiters.flatMap((w) => [w.wait(id, { timeoutMs: 10_000 }), w.wait(id, {})])
      await sleep(150)
      await writer.set([record(id, 'REVOKED')])
      const got = await Promise.all(pending)
      assert.ok(got.every((r) => r?.state === 'REVOKED'))
    })
  })
}
