import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryResultStore } from '../brokers/memory/results.js'
import type { ResultRecord } from '../contracts/result-store.js'
import { AsyncResult } from './result.js'
import { encodeProgress, progressOf } from './progress.js'
import type { TaskState } from './states.js'

function rec(id: string, state: TaskState, result: string | null, fence = 1): ResultRecord {
  const now = Date.now()
  return {
    id,
    state,
    task: 't',
    result,
    error: null,
    retries: 0,
    worker: 'w',
    startedAt: now,
    doneAt: null,
    updatedAt: now,
    expiresAt: null,
    fence,
  }
}

test('without a coordination part, follow() finds progress by polling and ends with the ready state', async () => {
  const store = new MemoryResultStore()
  const r = new AsyncResult('t1', async () => store)
  const seen: unknown[] = []
  const following = (async () => {
    for await (const u of r.follow({ pollInterval: 20 })) seen.push(u.ready ? u.state : u.progress)
  })()
  await new Promise((res) => setTimeout(res, 30))
  await store.set([rec('t1', 'STARTED', encodeProgress(0.5))])
  await new Promise((res) => setTimeout(res, 80))
  await store.set([rec('t1', 'SUCCESS', '"ok"')])
  await following
  assert.deepEqual(seen, [null, 0.5, 'SUCCESS'])
})

test('aborting the signal ends follow() and onProgress() quietly', async () => {
  const store = new MemoryResultStore()
  const r = new AsyncResult('t2', async () => store)
  const ac = new AbortController()
  setTimeout(() => ac.abort(), 50)
  const last = await r.onProgress(() => {}, { signal: ac.signal, pollInterval: 10 })
  assert.equal(last?.state, 'PENDING')
  const done = new AbortController()
  done.abort()
  const none: unknown[] = []
  for await (const u of r.follow({ signal: done.signal })) none.push(u)
  assert.deepEqual(none, [])
})

test('a listener that throws stops following and rejects onProgress()', async () => {
  const store = new MemoryResultStore()
  await store.set([rec('t3', 'STARTED', '1')])
  const r = new AsyncResult('t3', async () => store)
  await assert.rejects(
    r.onProgress(() => {
      throw new Error('listener broke')
    }),
    /listener broke/,
  )
})

test('progress is read only from records that are not ready', () => {
  assert.equal(progressOf(rec('x', 'STARTED', '{"a":1}')) !== null, true)
  assert.equal(progressOf(rec('x', 'SUCCESS', '{"a":1}')), null)
  assert.equal(progressOf(rec('x', 'STARTED', null)), null)
  assert.equal(progressOf(null), null)
})
