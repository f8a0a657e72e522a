import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ResultRecord } from '../../contracts/result-store.js'
import { outcomeLine, outcomeRecords } from './outcomes.js'

function record(id: string, extra: Partial<ResultRecord> = {}): ResultRecord {
  return {
    id,
    state: 'SUCCESS',
    task: 'demo.add',
    result: '"a long result the line leaves out"',
    error: null,
    retries: 0,
    worker: 'w1',
    startedAt: 1_790_000_000_000,
    doneAt: 1_790_000_000_005,
    updatedAt: 1_790_000_000_005,
    expiresAt: null,
    fence: 3,
    ...extra,
  }
}

/** The lines of an entry as eventArgs writes them: fields the same as the line before left empty. */
const entry = (records: ResultRecord[]) =>
  records.map((r, i) => outcomeLine(r, i ? records[i - 1]! : null)).join('\n')

/** What outcomeRecords gives back of a record. */
const kept = (r: ResultRecord) => ({
  id: r.id,
  state: r.state,
  task: r.task,
  worker: r.worker,
  retries: r.retries,
  startedAt: r.startedAt,
  doneAt: r.doneAt ?? r.updatedAt,
  updatedAt: r.doneAt ?? r.updatedAt,
  fence: r.fence,
})

describe('redis outcome lines', () => {
  it('give back what an event takes of each record, whatever its id, task and worker hold', () => {
    const records = [
      record('0f8fad5b-d9cb-469f-a165-70867728950e'),
      record('tab\there', { state: 'FAILURE', retries: 2 }),
      record('line\nbreak', { task: 'other\ttask', worker: null }),
      record('"quoted"', { state: 'RETRY', doneAt: null, updatedAt: 1_790_000_000_009, fence: null }),
      record('', { startedAt: null, task: null }),
      record('same', { state: 'REVOKED' }),
      record('-dash', { state: 'REVOKED' }),
      record('next', { state: 'REVOKED' }),
      record('later', { state: 'REVOKED', doneAt: 1_790_000_000_002, startedAt: 1_790_000_000_001 }),
    ]
    assert.deepEqual(outcomeRecords(entry(records)), records.map(kept))
  })

  it('leave out what the line before said, and never a record field they do not need', () => {
    const [a, b] = [record('a'), record('b')]
    const c = record('c')
    outcomeLine(a, null)
    assert.equal(outcomeLine(b, a), 'b\t\t\t\t\t5\t\t3', 'runtime 5 ms, the same end, fence 3')
    assert.equal(outcomeLine(c, b), 'c', 'the same again but for the id: the id alone')
    const d = record('d', { fence: 4, doneAt: 1_790_000_000_004 })
    assert.equal(outcomeLine(d, c), 'd\t\t\t\t\t4\t-1\t4', 'a step back, another fence')
    assert.deepEqual(
      outcomeRecords([a, b, c, d].map((r, i, all) => outcomeLine(r, i ? all[i - 1]! : null)).join('\n')),
      [a, b, c, d].map(kept),
    )
    assert.ok(!outcomeLine(a, null).includes('long result'))
  })

  it('skip a line marked dropped, whose fields still carry to the lines after it', () => {
    const records = [
      record('a', { task: 'first' }),
      record('b', { task: 'first' }),
      record('c', { task: 'second' }),
    ]
    const text = `-${entry(records)}`
    assert.deepEqual(outcomeRecords(text), [null, kept(records[1]!), kept(records[2]!)])
  })

  it('read a malformed text as nothing rather than as wrong events', () => {
    assert.equal(outcomeRecords('a\tSUCCESS'), null)
    assert.equal(outcomeRecords('a\tSUCCESS\t{bad json\t"w"\t0\t1\t2\t3'), null)
  })
})
