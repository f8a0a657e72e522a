/**
 * celery+redis:// against real Python Celery 5.2 (Debian's python3-celery): a TypeScript
 * producer's task runs on a Python worker; a Python producer's apply_async (kwargs, countdown)
 * runs on a celeriac worker and Python reads the result; a malformed message is dead-lettered.
 * Each case uses its own Redis database, flushed before and after.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { createApp } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { celeryApp, celerySkip, PY } from './python.js'

const REDIS = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0')
const HOST = `${REDIS.hostname}:${REDIS.port || '6379'}`
const skip = celerySkip()

const TASKS_PY = `
${celeryApp('proj')}

@app.task(name='proj.tasks.add')
def add(x, y):
    return x + y
`

const PRODUCER_PY = `
import os, sys, json
from celery import Celery
app = Celery('producer', broker=os.environ['BROKER'], backend=os.environ['BROKER'])
r = app.send_task('ts.greet', args=['Ada'], kwargs={'punctuation': '!'}, countdown=1)
print(json.dumps({'id': r.id, 'result': r.get(timeout=30)}), flush=True)
`

const dir = mkdtempSync(join(tmpdir(), 'celeriac-celery-'))
writeFileSync(join(dir, 'tasks.py'), TASKS_PY)
writeFileSync(join(dir, 'producer.py'), PRODUCER_PY)
const children: ChildProcess[] = []

function python(
  args: string[],
  db: number,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(PY, args, {
    cwd: dir,
    env: { ...process.env, BROKER: `redis://${HOST}/${db}`, PYTHONPATH: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  return { child, output: () => out, exited: new Promise((r) => child.on('exit', (c) => r(c))) }
}

async function fresh(db: number): Promise<Redis> {
  const r = new Redis(`redis://${HOST}/${db}`)
  await r.flushdb()
  return r
}

describe('celery+redis:// with Python Celery', { skip }, () => {
  after(() => {
    for (const c of children) c.kill('SIGKILL')
  })

  it("a TypeScript producer's task runs on a Python Celery worker; TypeScript reads the result", async () => {
    const db = 11
    const redis = await fresh(db)
    const py = python(
      ['-m', 'celery', '-A', 'tasks', 'worker', '--pool', 'solo', '-Q', 'celery', '--loglevel', 'INFO'],
      db,
    )
    const app = createApp({ broker: `celery+redis://${HOST}/${db}`, defaultQueue: 'celery' })
    try {
      const add = app.remoteTask<[number, number], number>('proj.tasks.add')
      const r = await add.delay(2, 3)
      const sum: number = await r.get({ timeout: 30_000 })
      assert.equal(sum, 5, py.output())
      const meta = JSON.parse((await redis.get(`celery-task-meta-${r.id}`))!) as Record<string, unknown>
      assert.equal(meta.status, 'SUCCESS')
      assert.equal(meta.task_id, r.id)
      assert.equal(await redis.hlen('unacked'), 0, 'the Python worker acknowledged the message')
    } finally {
      py.child.kill('SIGKILL')
      await app.close()
      await redis.flushdb()
      redis.disconnect()
    }
  })

  it("a Python producer's apply_async (kwargs, countdown) runs on a celeriac worker; Python reads the result", async () => {
    const db = 12
    const redis = await fresh(db)
    const app = createApp({ broker: `celery+redis://${HOST}/${db}`, defaultQueue: 'celery' })
    const started: number[] = []
    app.task('ts.greet', (_ctx, name: string, kw: { punctuation: string }) => {
      started.push(Date.now())
      return `Hello, ${name}${kw.punctuation}`
    })
    const worker = new Worker(app, { concurrency: 2, queues: ['celery'] })
    await worker.start()
    try {
      const sentAt = Date.now()
      const py = python(['producer.py'], db)
      assert.equal(await py.exited, 0, py.output())
      const line = py.output().trim().split('\n').pop()!
      const out = JSON.parse(line) as { id: string; result: string }
      assert.equal(out.result, 'Hello, Ada!')
      assert.ok(started[0]! - sentAt >= 900, 'the countdown was honoured')
      assert.equal(await redis.hlen('unacked'), 0)
      assert.equal(await redis.scard('_kombu.binding.celery'), 1)
    } finally {
      await worker.stop()
      await app.close()
      await redis.flushdb()
      redis.disconnect()
    }
  })

  it('a malformed Celery message is dead-lettered with a reason', async () => {
    const db = 13
    const redis = await fresh(db)
    const app = createApp({ broker: `celery+redis://${HOST}/${db}`, defaultQueue: 'celery' })
    app.task('ts.noop', () => 1)
    const pickled = JSON.stringify({
      body: 'gASVAAAAAAAAAAA=',
      'content-encoding': 'binary',
      'content-type': 'application/x-python-serialize',
      headers: { task: 'ts.noop', id: 'pickled-1' },
      properties: { body_encoding: 'base64', delivery_info: { exchange: 'celery', routing_key: 'celery' } },
    })
    await redis.lpush('celery', pickled, 'not json at all')
    const worker = new Worker(app, { concurrency: 1, queues: ['celery'] })
    await worker.start()
    try {
      const broker = await app.broker()
      let dead: Awaited<ReturnType<typeof broker.listDead>> = []
      for (let i = 0; i < 100 && dead.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100))
        dead = await broker.listDead()
      }
      assert.equal(dead.length, 2)
      const byId = new Map(dead.map((d) => [d.id, d]))
      assert.match(
        byId.get('pickled-1')!.reason,
        /content-type "application\/x-python-serialize" is not read/,
      )
      assert.ok(dead.some((d) => /not a JSON object/.test(d.reason)))
      assert.equal(await redis.llen('celery'), 0)
      assert.equal(await redis.hlen('unacked'), 0)
    } finally {
      await worker.stop()
      await app.close()
      await redis.flushdb()
      redis.disconnect()
    }
  })
})
