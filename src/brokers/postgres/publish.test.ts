/**
 * Publish on PostgreSQL: bodies and ids come back exactly as sent whichever way the batch is
 * written (array literals built by hand, or by pg for strings JSON would escape), and a batch of
 * ids celeriac generated (a plain insert) is stored in order like any other.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import type { OutgoingJob } from '../../contracts/broker.js'
import { postgresTestUrl } from '../../../test/conformance/postgres-env.js'
import { joinColumns, numberArray } from './arrays.js'
import { PostgresBroker } from './index.js'

describe('postgres: publish', () => {
  test('columns joined with a separator none of their values holds', () => {
    assert.deepEqual(
      joinColumns([
        ['a', 'b'],
        ['"', ''],
      ]),
      { texts: ['a\u001eb', '"\u001e'], separator: '\u001e' },
    )
    assert.deepEqual(joinColumns([['a\u001e', '\u0001'], ['\u0002']]).separator, '\u0003')
    assert.equal(numberArray([1, null, undefined, 1700000000000]), '{1,NULL,NULL,1700000000000}')
  })

  const broker = new PostgresBroker(postgresTestUrl())
  after(() => broker.close())

  const bodies = [
    'plain',
    'quote " and \\ backslash',
    'NULL',
    '',
    '{"a":[1,2]}',
    'x😀y',
    'line\nbreak\ttab',
    'ctl\u0001',
    'lone \ud800 half',
    ' spaced ',
  ]
  const expected = (b: string) => b.replace(/\p{Cs}/gu, '\ufffd')

  for (const generated of [false, true])
    test(`bodies round trip, in order (${generated ? 'generated ids: plain insert' : 'chosen ids'})`, async () => {
      await broker.connect()
      const queue = `q-${randomUUID().slice(0, 8)}`
      const jobs: OutgoingJob[] = bodies.map((body, i) => ({
        id: generated ? randomUUID() : `id "${i}" \\ ${randomUUID()}`,
        queue,
        priority: 0,
        body,
        ...(generated ? { generatedId: true } : {}),
      }))
      await broker.publish(jobs)
      const got = await broker.reserve([queue], 100, { leaseMs: 60_000 })
      assert.deepEqual(
        got.map((d) => [d.id, d.body]),
        jobs.map((j) => [j.id, expected(j.body)]),
      )
      await broker.ack(got)
    })

  test('a batch of one empty body', async () => {
    await broker.connect()
    const queue = `q-${randomUUID().slice(0, 8)}`
    await broker.publish([{ id: randomUUID(), queue, priority: 0, body: '', generatedId: true }])
    const got = await broker.reserve([queue], 10, { leaseMs: 60_000 })
    assert.deepEqual(
      got.map((d) => d.body),
      [''],
    )
    await broker.ack(got)
  })
})
