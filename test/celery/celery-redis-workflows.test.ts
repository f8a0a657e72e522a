/**
 * celery+redis:// workflows across languages, against real Python Celery 5.2: chains, `link` and
 * `link_error` carried in protocol v2's `embed`, with steps alternating between a Python worker
 * and a celeriac worker, sent from Python and from TypeScript. Chords across languages are
 * refused with a reason. Each case has its own queues on Redis database 14.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { chain, chord, createApp, group } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { celeryApp, celerySkip, PY } from './python.js'

const REDIS = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0')
const HOST = `${REDIS.hostname}:${REDIS.port || '6379'}`
const DB = 14
const skip = celerySkip()

const TASKS_PY = `
${celeryApp('proj')}

@app.task(name='py.double')
def double(x):
    return x * 2

@app.task(name='py.fail')
def fail(x):
    raise ValueError('py.fail %s' % x)

@app.task(name='py.on_error')
def on_error(task_id):
    return 'py saw ' + task_id
`

/** Python producer: the cases of the first test; prints one JSON line of what it read back. */
const PRODUCER_PY = `
import os, sys, json
from celery import Celery, chain
app = Celery('producer', broker=os.environ['BROKER'], backend=os.environ['BROKER'])
tsq, pyq = sys.argv[1], sys.argv[2]
out = {}
c = chain(app.signature('ts.add', args=[2, 3], queue=tsq), app.signature('py.double', queue=pyq),
          app.signature('ts.add', args=[1], queue=tsq))
out['chain'] = c.apply_async().get(timeout=60)
cb = app.signature('py.double', queue=pyq)
cb_result = cb.freeze()
r = app.send_task('ts.add', args=[1, 1], queue=tsq, link=cb)
out['linked'] = [r.get(timeout=60), cb_result.get(timeout=60)]
eb = app.signature('py.on_error', queue=pyq)
eb_result = eb.freeze()
r = app.send_task('ts.fail', args=[7], queue=tsq, link_error=eb)
out['errback'] = eb_result.get(timeout=60)
out['failed_id'] = r.id
out['failed_state'] = r.state
eb2 = app.signature('ts.on_error', queue=tsq)
eb2_result = eb2.freeze()
r2 = app.send_task('py.fail', args=[1], queue=pyq, link_error=eb2)
out['ts_errback'] = eb2_result.get(timeout=60)
out['py_failed_id'] = r2.id
print(json.dumps(out), flush=True)
`

const dir = mkdtempSync(join(tmpdir(), 'celeriac-celery-flow-'))
writeFileSync(join(dir, 'tasks.py'), TASKS_PY)
writeFileSync(join(dir, 'producer.py'), PRODUCER_PY)
const children: ChildProcess[] = []

function python(args: string[]): {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
} {
  const child = spawn(PY, args, {
    cwd: dir,
    env: { ...process.env, BROKER: `redis://${HOST}/${DB}`, PYTHONPATH: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  return { child, output: () => out, exited: new Promise((r) => child.on('exit', (c) => r(c))) }
}

describe('celery+redis:// workflows across languages', { skip }, () => {
  const tsq = `flow-ts-${randomUUID()}`
  const pyq = `flow-py-${randomUUID()}`
  const app = createApp({ broker: `celery+redis://${HOST}/${DB}`, defaultQueue: tsq })
  const add = app.task('ts.add', (_ctx, a: number, b: number) => a + b)
  const inc = app.task('ts.inc', (_ctx, x: number) => x + 1)
  app.task('ts.fail', (_ctx, x: number) => {
    throw new Error(`ts.fail ${x}`)
  })
  const sum = app.task('ts.sum', (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0))
  const onError = app.task('ts.on_error', (_ctx, taskId: string) => `ts saw ${taskId}`)
  const double = app.remoteTask<[number], number>('py.double')
  const pyFail = app.remoteTask<[number], never>('py.fail')
  const worker = new Worker(app, { concurrency: 2, queues: [tsq] })
  let pyWorker: ReturnType<typeof python>
  const redis = new Redis(`redis://${HOST}/${DB}`)

  before(async () => {
    pyWorker = python([
      '-m',
      'celery',
      '-A',
      'tasks',
      'worker',
      '--pool',
      'solo',
      '-Q',
      pyq,
      '--loglevel',
      'INFO',
    ])
    await worker.start()
  })
  after(async () => {
    for (const c of children) c.kill('SIGKILL')
    await worker.stop()
    await app.close()
    const keys = await redis.keys('celery-task-meta-*')
    if (keys.length) await redis.del(...keys.filter(Boolean))
    for (const q of [tsq, pyq]) await redis.del(q, `_kombu.binding.${q}`)
    redis.disconnect()
  })

  it('from Python: a chain across both workers, link and link_error callbacks in both directions', async () => {
    const py = python(['producer.py', tsq, pyq])
    assert.equal(await py.exited, 0, py.output() + pyWorker.output())
    const line = py.output().trim().split('\n').pop()!
    const out = JSON.parse(line) as Record<string, unknown>
    assert.equal(out.chain, 11, 'ts.add(2, 3) → py.double → ts.add(·, 1)')
    assert.deepEqual(out.linked, [2, 4], 'ts.add(1, 1) linked to py.double')
    assert.equal(out.failed_state, 'FAILURE')
    assert.equal(
      out.errback,
      `py saw ${String(out.failed_id)}`,
      'a celeriac failure calls the Python errback with its id',
    )
    assert.equal(
      out.ts_errback,
      `ts saw ${String(out.py_failed_id)}`,
      'a Python failure calls the celeriac errback with its id',
    )
  })

  it('from TypeScript: a chain across both workers, link and linkError to and from Python tasks', async () => {
    // Steps that a Python worker sends on name their queue: Python routes the others to "celery".
    const r = await chain(add.s(2, 3), double.s().set({ queue: pyq }), inc.s().set({ queue: tsq })).apply()
    assert.equal(await r.get({ timeout: 20_000 }), 11)

    const linked = await double.applyAsync([5], { queue: pyq, link: inc.s().set({ queue: tsq }) })
    assert.equal(await linked.get({ timeout: 60_000 }), 10)
    assert.equal(await app.asyncResult<number>(`${linked.id}.link.0`).get({ timeout: 60_000 }), 11)

    // On Celery's wire an errback gets the failed task's id (Celery's convention), not a TaskFailure.
    const failed = await pyFail.applyAsync([1], {
      queue: pyq,
      linkError: onError.s().set({ queue: tsq }) as never,
    })
    assert.equal(
      await app.asyncResult<string>(`${failed.id}.err.0`).get({ timeout: 60_000 }),
      `ts saw ${failed.id}`,
    )
    await assert.rejects(failed.get({ timeout: 10_000 }), /py.fail 1/)

    const tsFailed = await add.applyAsync([1, 2], {
      link: onError.s() as never,
      linkError: app.remoteTask<[string], string>('py.on_error').s().set({ queue: pyq }) as never,
    })
    assert.equal(await tsFailed.get({ timeout: 60_000 }), 3)
    assert.equal(await app.asyncResult<string>(`${tsFailed.id}.link.0`).get({ timeout: 60_000 }), 'ts saw 3')
  })

  it('chords are refused on the Celery wire with a reason, and a Python chord message is dead-lettered', async () => {
    await assert.rejects(
      chord(group([add.s(1, 1), add.s(2, 2)]), sum.s()).apply(),
      /chords are not carried on the Celery wire/,
    )
    const py = python([
      '-c',
      [
        'import os, sys',
        'from celery import Celery, chord',
        "app = Celery('p', broker=os.environ['BROKER'], backend=os.environ['BROKER'])",
        `chord([app.signature('ts.add', args=[1, 1], queue='${tsq}')], app.signature('py.double', queue='${pyq}')).apply_async()`,
      ].join('\n'),
    ])
    assert.equal(await py.exited, 0, py.output())
    const broker = await app.broker()
    let dead: Awaited<ReturnType<typeof broker.listDead>> = []
    for (let i = 0; i < 100 && !dead.length; i++) {
      await new Promise((r) => setTimeout(r, 100))
      dead = await broker.listDead({ queue: tsq })
    }
    assert.match(
      dead.map((d) => d.reason).join('; '),
      /embed carries a chord: chords are not run across languages/,
    )
    await broker.deleteDead(dead.map((d) => d.id))
  })
})
