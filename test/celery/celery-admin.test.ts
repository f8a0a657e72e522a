/**
 * Celery mode's dead letters and queue counts, on Redis and on RabbitMQ, through the CLI against
 * the real servers: malformed protocol messages (a pickled body, a body that is not JSON) are
 * dead-lettered with a reason by a celeriac worker; `celeriac stats` counts waiting, delayed and
 * dead; `celeriac dead list/prune/replay` read, trim and send them back. No Python needed: the
 * messages are written as kombu lays them out. Redis database 15; unique RabbitMQ queue names.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import amqplib from 'amqplib'
import { Redis } from 'ioredis'
import { createApp, type App } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { cli, until } from '../e2e/helpers.js'

const REDIS = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0')
const HOST = `${REDIS.hostname}:${REDIS.port || '6379'}`
const DB = 15
const AMQP = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

interface Row {
  waiting: number
  delayed: number
  active: number
  dead: number
}

/** `celeriac stats -Q queue` run as a process, its row read back. */
async function statsRow(url: string, queue: string): Promise<Row> {
  const r = await cli(['-b', url, 'stats', '-Q', queue])
  assert.equal(r.code, 0, r.out)
  const line = r.out.split('\n').find((l) => l.trim().startsWith(queue))
  assert.ok(line, r.out)
  const [, waiting, delayed, active, dead] = line.trim().split(/\s+/).map(Number)
  return { waiting: waiting!, delayed: delayed!, active: active!, dead: dead! }
}

async function deadIds(url: string, queue: string): Promise<{ id: string; reason: string }[]> {
  const r = await cli(['-b', url, 'dead', 'list', '-Q', queue, '--json'])
  assert.equal(r.code, 0, r.out)
  return JSON.parse(r.out) as { id: string; reason: string }[]
}

/** Runs a celeriac worker in this process until the two malformed messages are dead. */
async function drainMalformed(app: App, url: string, queue: string): Promise<Worker> {
  app.task('ts.noop', () => 1)
  const worker = new Worker(app, { concurrency: 2, queues: [queue] })
  await worker.start()
  const broker = await app.broker()
  await until(
    async () => (await broker.listDead({ queue })).length === 2,
    30_000,
    `two dead letters on ${url}`,
  )
  return worker
}

/** The checks shared by both engines, after two malformed messages died in `queue`. */
async function operate(
  url: string,
  queue: string,
  pickledId: string,
  requeued: () => Promise<number>,
): Promise<void> {
  const dead = await deadIds(url, queue)
  assert.equal(dead.length, 2)
  const pickled = dead.find((d) => d.id === pickledId)
  assert.ok(pickled, JSON.stringify(dead))
  assert.match(pickled.reason, /content-type "application\/x-python-serialize" is not read/)
  assert.ok(dead.every((d) => d.reason.length > 0))
  assert.equal((await statsRow(url, queue)).dead, 2)

  let r = await cli(['-b', url, 'dead', 'prune', '--keep', '1'])
  assert.equal(r.code, 0, r.out)
  const left = await deadIds(url, queue)
  assert.equal(left.length, 1)
  assert.equal((await statsRow(url, queue)).dead, 1)

  r = await cli(['-b', url, 'dead', 'replay', left[0]!.id])
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /replayed 1 /)
  assert.deepEqual(await deadIds(url, queue), [])
  assert.equal(await requeued(), 1)
  const row = await statsRow(url, queue)
  assert.equal(row.dead, 0)
  assert.equal(row.waiting, 1)
}

describe('celery+redis:// dead letters and counts through the CLI', () => {
  const url = `celery+redis://${HOST}/${DB}`
  const redis = new Redis(`redis://${HOST}/${DB}`)
  after(async () => {
    await redis.flushdb()
    redis.disconnect()
  })

  it('malformed messages die with a reason; stats, dead list, prune and replay work', async () => {
    await redis.flushdb()
    const queue = 'adm'
    const pickledId = `pickled-${randomUUID()}`
    const app = createApp({ broker: url, defaultQueue: queue })
    const pickled = JSON.stringify({
      body: 'gASVAAAAAAAAAAA=',
      'content-encoding': 'binary',
      'content-type': 'application/x-python-serialize',
      headers: { task: 'ts.noop', id: pickledId },
      properties: { body_encoding: 'base64', delivery_info: { exchange: queue, routing_key: queue } },
    })
    await redis.lpush(queue, pickled, 'not json at all')
    const worker = await drainMalformed(app, url, queue)
    try {
      // A task due in a minute is filed in `unacked` with its eta: delayed, for any process.
      await app.remoteTask('ts.noop').applyAsync([], { countdown: '60s' })
      await until(async () => (await statsRow(url, queue)).delayed === 1, 30_000, 'one delayed')
    } finally {
      await worker.stop()
      await app.close()
    }
    await redis.del('unacked', 'unacked_index')
    await operate(url, queue, pickledId, () => redis.llen(queue))
  })
})

describe('celery+amqp:// dead letters and counts through the CLI', () => {
  const queue = `adm-${randomUUID()}`
  const url = `celery+${AMQP}?results=${encodeURIComponent(`redis://${HOST}/${DB}`)}`
  after(async () => {
    const conn = await amqplib.connect(AMQP)
    const ch = await conn.createChannel()
    await ch.deleteQueue(queue)
    await ch.deleteExchange(queue)
    await conn.close()
  })

  it('malformed messages die with a reason; stats, dead list, prune and replay work', async () => {
    const pickledId = `pickled-${randomUUID()}`
    const conn = await amqplib.connect(AMQP)
    after(() => conn.close().catch(() => {}))
    const ch = await conn.createConfirmChannel()
    await ch.assertExchange(queue, 'direct', { durable: true })
    await ch.assertQueue(queue, { durable: true })
    await ch.bindQueue(queue, queue, queue)
    ch.publish(queue, queue, Buffer.from([0x80, 0x04, 0x95]), {
      contentType: 'application/x-python-serialize',
      contentEncoding: 'binary',
      headers: { task: 'ts.noop', id: pickledId },
    })
    ch.publish(queue, queue, Buffer.from('not json at all'), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { task: 'ts.noop', id: `garbled-${randomUUID()}` },
    })
    await ch.waitForConfirms()
    const app = createApp({ broker: url, defaultQueue: queue })
    const worker = await drainMalformed(app, url, queue)
    try {
      // A task due in a minute is held unacknowledged by the worker's process: delayed there.
      await app.remoteTask('ts.noop').applyAsync([], { countdown: '60s' })
      const broker = await app.broker()
      await until(async () => (await broker.stats([queue]))[0]!.delayed === 1, 30_000, 'one delayed')
      assert.equal((await statsRow(url, queue)).waiting, 0)
    } finally {
      await worker.stop()
      await app.close()
    }
    // Given back when the worker stopped.
    assert.equal((await statsRow(url, queue)).waiting, 1)
    await ch.purgeQueue(queue)
    await operate(url, queue, pickledId, async () => (await ch.checkQueue(queue)).messageCount)
  })
})
