/**
 * celery+redis:// delivery semantics against real Python Celery 5.2, with celeriac workers as
 * separate processes (the CLI, test/fixtures/celery-tasks.ts):
 * - a celeriac worker SIGKILLed mid-task: Celery's visibility timeout (short, from the URL) puts
 *   the message back and another celeriac worker runs it; the Python producer gets the result;
 * - a task that raises and retries on the celeriac side: the retried message on the wire is
 *   Celery's (same id, `retries` raised, `eta` set), the countdown is honoured, Python reads the
 *   final result and the retry count;
 * - `expires` in the past: the task does not run and Python reads REVOKED.
 * Each case has its own queue name on Redis database 14 and deletes its keys afterwards.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { celerySkip, PY } from './python.js'
import { run, until, type Proc } from '../e2e/helpers.js'

const REDIS = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0')
const HOST = `${REDIS.hostname}:${REDIS.port || '6379'}`
const DB = 14
const skip = celerySkip()
const FIXTURE = join(import.meta.dirname, '../fixtures/celery-tasks.ts')

/** Sends one task by name and prints a JSON line with what Python reads back. */
const PRODUCER_PY = `
import os, sys, json, time
from celery import Celery
app = Celery('producer', broker=os.environ['BROKER'], backend=os.environ['BROKER'])
spec = json.loads(sys.argv[1])
r = app.send_task(spec['task'], args=spec['args'], queue=spec['queue'], expires=spec.get('expires'))
print(json.dumps({'sent': r.id}), flush=True)
if spec.get('wait_state'):
    deadline = time.time() + 30
    while r.state not in ('REVOKED', 'SUCCESS', 'FAILURE') and time.time() < deadline:
        time.sleep(0.1)
    print(json.dumps({'id': r.id, 'state': r.state}), flush=True)
else:
    result = r.get(timeout=60)
    meta = app.backend.get_task_meta(r.id)
    print(json.dumps({'id': r.id, 'state': r.state, 'result': result, 'retries': meta.get('retries')}), flush=True)
`

const dir = mkdtempSync(join(tmpdir(), 'celeriac-celery-delivery-'))
writeFileSync(join(dir, 'producer.py'), PRODUCER_PY)
const children: ChildProcess[] = []
const procs: Proc[] = []

function producer(spec: Record<string, unknown>): { output: () => string; exited: Promise<number | null> } {
  const child = spawn(PY, [join(dir, 'producer.py'), JSON.stringify(spec)], {
    cwd: dir,
    env: { ...process.env, BROKER: `redis://${HOST}/${DB}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  return { output: () => out, exited: new Promise((r) => child.on('exit', (c) => r(c))) }
}

function lastJson(text: string): Record<string, unknown> {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>
}

interface Entry {
  event: string
  id: string
  pid: number
  retries: number
  at: number
}
function journal(file: string): Entry[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Entry)
}

function celeriacWorker(queue: string, jfile: string, vt: number): Proc {
  const p = run(['-A', FIXTURE, 'worker', '--no-banner', '-Q', queue, '-c', '2'], {
    CELERIAC_BROKER: `celery+redis://${HOST}/${DB}?visibility_timeout=${vt}`,
    JOURNAL: jfile,
    QUEUE: queue,
  })
  procs.push(p)
  return p
}

/** Deletes the keys a case left behind: its queue lists, binding, results and its unacked entries. */
async function cleanup(redis: Redis, queue: string, ids: string[]): Promise<void> {
  const keys = [queue, ...[3, 6, 9].map((p) => `${queue}\x06\x16${p}`), `_kombu.binding.${queue}`]
  await redis.del(...keys, ...ids.map((id) => `celery-task-meta-${id}`))
  const unacked = await redis.hgetall('unacked')
  for (const [tag, entry] of Object.entries(unacked))
    if (entry.includes(`"${queue}"`))
      await redis.multi().hdel('unacked', tag).zrem('unacked_index', tag).exec()
}

describe('celery+redis:// delivery semantics with Python Celery', { skip }, () => {
  const redis = new Redis(`redis://${HOST}/${DB}`)
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const c of children) c.kill('SIGKILL')
    redis.disconnect()
  })

  it('a celeriac worker SIGKILLed mid-task: the visibility timeout redelivers it to another worker', async () => {
    const queue = `kill-${randomUUID()}`
    const jfile = join(dir, `${queue}.log`)
    const py = producer({ task: 'ts.slow', args: [1500], queue })
    const first = celeriacWorker(queue, jfile, 2)
    let id = ''
    try {
      await until(
        () => journal(jfile).some((e) => e.event === 'start'),
        30_000,
        'the first worker started the task',
      )
      id = journal(jfile)[0]!.id
      first.kill('SIGKILL')
      await first.exited()
      const filed = Object.values(await redis.hgetall('unacked')).filter((e) => e.includes(id))
      assert.equal(filed.length, 1, 'the message waits in unacked for the visibility timeout')
      const killedAt = Date.now()
      const second = celeriacWorker(queue, jfile, 2)
      assert.equal(await py.exited, 0, py.output() + second.output())
      const out = lastJson(py.output())
      assert.equal(out.state, 'SUCCESS')
      assert.deepEqual(out.result, { pid: second.child.pid })
      const runs = journal(jfile)
      assert.deepEqual(
        runs.map((e) => [e.event, e.pid]),
        [
          ['start', first.child.pid],
          ['start', second.child.pid],
          ['done', second.child.pid],
        ],
      )
      assert.ok(runs[1]!.at - killedAt >= 1000, 'redelivered only once the visibility timeout had passed')
    } finally {
      await cleanup(redis, queue, [id])
    }
  })

  it('a task that raises and retries on the celeriac side keeps Celery retry semantics; Python reads the result', async () => {
    const queue = `retry-${randomUUID()}`
    const jfile = join(dir, `${queue}.log`)
    const w = celeriacWorker(queue, jfile, 3600)
    const py = producer({ task: 'ts.flaky', args: [2], queue })
    let id = ''
    try {
      // While the first retry waits for its countdown, the message on the wire is Celery's.
      await until(() => journal(jfile).length >= 1, 30_000, 'the first attempt ran')
      id = journal(jfile)[0]!.id
      let wire: { headers: Record<string, unknown> } | undefined
      await until(
        async () => {
          for (const entry of Object.values(await redis.hgetall('unacked'))) {
            const [payload] = JSON.parse(entry) as [{ headers: Record<string, unknown> }]
            if (payload.headers.id === id && payload.headers.retries === 1) wire = payload
          }
          return wire !== undefined
        },
        10_000,
        'the retried message filed in unacked',
      )
      assert.equal(wire!.headers.task, 'ts.flaky')
      assert.equal(typeof wire!.headers.eta, 'string', 'a retry with a countdown carries an eta')
      assert.equal(await py.exited, 0, py.output() + w.output())
      const out = lastJson(py.output())
      assert.equal(out.state, 'SUCCESS')
      assert.deepEqual(out.result, { retries: 2 })
      assert.equal(out.retries, 2, 'the result records the retry count as Celery does')
      const runs = journal(jfile).filter((e) => e.event === 'start')
      assert.deepEqual(
        runs.map((e) => [e.id, e.retries]),
        [
          [id, 0],
          [id, 1],
          [id, 2],
        ],
      )
      for (let i = 1; i < runs.length; i++)
        assert.ok(runs[i]!.at - runs[i - 1]!.at >= 900, 'the retry countdown (eta) was honoured')
    } finally {
      w.kill('SIGKILL')
      await cleanup(redis, queue, [id])
    }
  })

  it('expires in the past: the task does not run and Python reads REVOKED', async () => {
    const queue = `expired-${randomUUID()}`
    const jfile = join(dir, `${queue}.log`)
    const w = celeriacWorker(queue, jfile, 3600)
    const py = producer({ task: 'ts.slow', args: [0], queue, expires: -5, wait_state: true })
    let id = ''
    try {
      assert.equal(await py.exited, 0, py.output() + w.output())
      const out = lastJson(py.output())
      id = String(out.id)
      assert.equal(out.state, 'REVOKED', py.output() + w.output())
      assert.deepEqual(journal(jfile), [], 'the expired task never ran')
      assert.equal(await redis.llen(queue), 0)
    } finally {
      w.kill('SIGKILL')
      await cleanup(redis, queue, [id])
    }
  })
})
