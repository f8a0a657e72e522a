/**
 * Housekeeping runs on one worker at a time (the holder of the coordination lock), deletes dead
 * letters past their retention and expired results, and moves to another worker when the holder
 * stops.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { MemoryBroker, MemoryCoordination, MemoryResultStore } from '../../src/brokers/memory/index.js'
import { createApp } from '../../src/index.js'
import { Housekeeper } from '../../src/worker/housekeeping.js'
import { Worker } from '../../src/worker/index.js'

const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('housekeeping', () => {
  it('one leader at a time; another takes over when it stops', async () => {
    const engine = new MemoryCoordination()
    const broker = new MemoryBroker()
    let prunes = 0
    const counting = Object.assign(Object.create(broker) as MemoryBroker, {
      pruneDead: async () => (prunes++, 0),
    })
    const make = (owner: string) =>
      new Housekeeper({
        owner,
        intervalMs: 60_000,
        coordination: new MemoryCoordination(engine),
        results: new MemoryResultStore(),
        broker: counting,
        deadRetentionMs: 1000,
        log: silent,
      })
    const a = make('a')
    const b = make('b')
    await a.runOnce()
    await b.runOnce()
    assert.equal(a.leader, true)
    assert.equal(b.leader, false)
    assert.equal(prunes, 1, 'only the leader cleaned')
    await a.stop()
    await b.runOnce()
    assert.equal(b.leader, true, 'the other worker took over')
    assert.equal(prunes, 2)
    await b.stop()
  })

  it('a worker deletes dead letters past their retention', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const t = app.task('fails', () => {
      throw new Error('no')
    })
    const w = new Worker(app, {
      concurrency: 1,
      logger: silent,
      deadLetterRetention: 100,
      housekeepingInterval: 50,
    })
    await w.start()
    const r = await t.delay()
    await assert.rejects(r.get({ timeout: 5000 }), /no/)
    const broker = await app.broker()
    assert.equal((await broker.listDead()).length, 1)
    await sleep(400)
    assert.equal((await broker.listDead()).length, 0, 'pruned after the retention')
    await w.stop()
    await app.close()
  })
})
