/**
 * celery+amqp:// against real Python Celery 5.2 on RabbitMQ, results in Celery's Redis format:
 * a TypeScript producer's task runs on a Python worker and TypeScript reads the result; a Python
 * producer's apply_async (kwargs, countdown) runs on a celeriac worker and Python reads the
 * result. Queues have unique names; results use Redis database 14.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import amqplib from 'amqplib'
import { Redis } from 'ioredis'
import { createApp } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { celeryApp, celerySkip, PY } from './python.js'
import { run, until, type Proc } from '../e2e/helpers.js'

const REDIS = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0')
const RESULTS = `redis://${REDIS.hostname}:${REDIS.port || '6379'}/14`
const AMQP = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const skip = celerySkip(['celery', 'redis', 'amqp'])

const TASKS_PY = `
${celeryApp('proj', 'RESULTS')}

@app.task(name='py.add')
def add(x, y):
    return x + y
`

const PRODUCER_PY = `
import os, sys, json, time
from celery import Celery
app = Celery('producer', broker=os.environ['BROKER'], backend=os.environ['RESULTS'])
t0 = time.time()
r = app.send_task('ts.greet', args=['Ada'], kwargs={'punctuation': '!'}, countdown=1, queue=sys.argv[1])
print(json.dumps({'id': r.id, 'result': r.get(timeout=30), 'seconds': time.time() - t0}), flush=True)
`

/** Sends one task by name to a queue and prints what Python reads back. */
const SEND_PY = `
import os, sys, json
from celery import Celery
app = Celery('producer', broker=os.environ['BROKER'], backend=os.environ['RESULTS'])
r = app.send_task(sys.argv[1], args=json.loads(sys.argv[2]), queue=sys.argv[3])
result = r.get(timeout=60)
print(json.dumps({'id': r.id, 'result': result, 'retries': app.backend.get_task_meta(r.id).get('retries')}), flush=True)
`
const FIXTURE = join(import.meta.dirname, '../fixtures/celery-tasks.ts')

const dir = mkdtempSync(join(tmpdir(), 'celeriac-celery-amqp-'))
writeFileSync(join(dir, 'tasks.py'), TASKS_PY)
writeFileSync(join(dir, 'producer.py'), PRODUCER_PY)
writeFileSync(join(dir, 'send.py'), SEND_PY)
const children: ChildProcess[] = []

function python(args: string[]): {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
} {
  const child = spawn(PY, args, {
    cwd: dir,
    env: { ...process.env, BROKER: AMQP, RESULTS, PYTHONPATH: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  return { child, output: () => out, exited: new Promise((r) => child.on('exit', (c) => r(c))) }
}

describe('celery+amqp:// with Python Celery', { skip }, () => {
  const redis = new Redis(RESULTS)
  const ids: string[] = []
  const queues: string[] = []
  const url = `celery+${AMQP}?results=${encodeURIComponent(RESULTS)}`
  const procs: Proc[] = []
  const celeriacWorker = (queue: string, journal: string): Proc => {
    const p = run(['-A', FIXTURE, 'worker', '--no-banner', '-Q', queue, '-c', '2'], {
      CELERIAC_BROKER: url,
      JOURNAL: journal,
      QUEUE: queue,
    })
    procs.push(p)
    return p
  }
  const journal = (
    file: string,
  ): { event: string; id: string; pid: number; retries: number; at: number }[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(
            (l) => JSON.parse(l) as { event: string; id: string; pid: number; retries: number; at: number },
          )
      : []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const c of children) c.kill('SIGKILL')
    const conn = await amqplib.connect(AMQP)
    const ch = await conn.createChannel()
    for (const q of queues) {
      await ch.deleteQueue(q)
      await ch.deleteExchange(q)
    }
    await conn.close()
    if (ids.length) await redis.del(...ids.map((id) => `celery-task-meta-${id}`))
    redis.disconnect()
  })

  it("a TypeScript producer's task runs on a Python Celery worker; TypeScript reads the result", async () => {
    const queue = `amqp-py-${randomUUID()}`
    queues.push(queue)
    const py = python([
      '-m',
      'celery',
      '-A',
      'tasks',
      'worker',
      '--pool',
      'solo',
      '-Q',
      queue,
      '--loglevel',
      'INFO',
    ])
    const app = createApp({ broker: url, defaultQueue: queue })
    try {
      const add = app.remoteTask<[number, number], number>('py.add')
      const r = await add.delay(2, 3)
      ids.push(r.id)
      assert.equal(
        await r.get({ timeout: 30_000 }).catch((e: Error) => assert.fail(e.message + py.output())),
        5,
      )
      const meta = JSON.parse((await redis.get(`celery-task-meta-${r.id}`))!) as Record<string, unknown>
      assert.equal(meta.status, 'SUCCESS')
    } finally {
      py.child.kill('SIGKILL')
      await app.close()
    }
  })

  it("a Python producer's apply_async (kwargs, countdown) runs on a celeriac worker; Python reads the result", async () => {
    const queue = `amqp-ts-${randomUUID()}`
    queues.push(queue)
    const app = createApp({ broker: url, defaultQueue: queue })
    app.task(
      'ts.greet',
      (_ctx, name: string, kw: { punctuation: string }) => `Hello, ${name}${kw.punctuation}`,
    )
    const worker = new Worker(app, { concurrency: 2, queues: [queue] })
    await worker.start()
    try {
      const py = python(['producer.py', queue])
      assert.equal(await py.exited, 0, py.output())
      const out = JSON.parse(py.output().trim().split('\n').pop()!) as {
        id: string
        result: string
        seconds: number
      }
      ids.push(out.id)
      assert.equal(out.result, 'Hello, Ada!')
      assert.ok(out.seconds >= 0.9, 'the countdown was honoured')
      const broker = await app.broker()
      const [s] = await broker.stats([queue])
      assert.equal(s!.waiting, 0)
    } finally {
      await worker.stop()
      await app.close()
    }
  })

  it('a celeriac worker SIGKILLed mid-task: RabbitMQ delivers the message again to another worker', async () => {
    const queue = `amqp-kill-${randomUUID()}`
    queues.push(queue)
    const jfile = join(dir, `${queue}.log`)
    const first = celeriacWorker(queue, jfile)
    const py = python(['send.py', 'ts.slow', '[1500]', queue])
    await until(
      () => journal(jfile).some((e) => e.event === 'start'),
      30_000,
      'the first worker started the task',
    )
    first.kill('SIGKILL')
    await first.exited()
    const second = celeriacWorker(queue, jfile)
    assert.equal(await py.exited, 0, py.output() + second.output())
    const out = JSON.parse(py.output().trim().split('\n').pop()!) as { id: string; result: unknown }
    ids.push(out.id)
    assert.deepEqual(out.result, { pid: second.child.pid })
    assert.deepEqual(
      journal(jfile).map((e) => [e.event, e.pid]),
      [
        ['start', first.child.pid],
        ['start', second.child.pid],
        ['done', second.child.pid],
      ],
    )
    second.kill('SIGKILL')
  })

  it('a task that raises and retries on the celeriac side: same id, retries raised, countdown honoured', async () => {
    const queue = `amqp-retry-${randomUUID()}`
    queues.push(queue)
    const jfile = join(dir, `${queue}.log`)
    const w = celeriacWorker(queue, jfile)
    const py = python(['send.py', 'ts.flaky', '[2]', queue])
    assert.equal(await py.exited, 0, py.output() + w.output())
    const out = JSON.parse(py.output().trim().split('\n').pop()!) as {
      id: string
      result: unknown
      retries: number
    }
    ids.push(out.id)
    assert.deepEqual(out.result, { retries: 2 })
    assert.equal(out.retries, 2)
    const runs = journal(jfile)
    assert.deepEqual(
      runs.map((e) => [e.id, e.retries]),
      [
        [out.id, 0],
        [out.id, 1],
        [out.id, 2],
      ],
    )
    for (let i = 1; i < runs.length; i++)
      assert.ok(runs[i]!.at - runs[i - 1]!.at >= 900, 'the countdown was honoured')
    w.kill('SIGKILL')
  })
})
