import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { createApp, encode } from '../index.js'
import type { BackgroundLogger } from './background.js'
import { backgroundTasks, taskStatusRoutes } from './fastify.js'

interface Logged {
  level: 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

function recorder(): { logger: BackgroundLogger; logs: Logged[] } {
  const logs: Logged[] = []
  const push = (level: Logged['level']) => (obj: object, msg?: string) =>
    logs.push({ level, obj: obj as Record<string, unknown>, msg })
  return { logs, logger: { warn: push('warn'), error: push('error') } }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

async function listen(
  build: (server: FastifyInstance, logger: BackgroundLogger) => void | Promise<void>,
  shutdownTimeout = 5000,
) {
  const { logger, logs } = recorder()
  const server = Fastify()
  await server.register(backgroundTasks, { logger, shutdownTimeout })
  await build(server, logger)
  await server.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`
  return { server, url, logs }
}

test('the response arrives before the background work finishes', async () => {
  const release = deferred()
  let finished = false
  let sentBeforeStart: boolean | undefined
  const { server, url } = await listen((s) => {
    s.get('/', async (req, reply) => {
      req.background.add(async (ms: number) => {
        sentBeforeStart = reply.raw.writableFinished
        await release.promise
        await new Promise((r) => setTimeout(r, ms))
        finished = true
      }, 1)
      return { ok: true }
    })
  })
  const res = await fetch(url)
  assert.deepEqual(await res.json(), { ok: true })
  assert.equal(finished, false)
  release.resolve()
  assert.equal(await server.celeriacBackground.drain(2000), true)
  assert.equal(finished, true)
  assert.equal(sentBeforeStart, true)
  await server.close()
})

test('without a logger, failures go to the console when Fastify logs nothing', async (t) => {
  const errors = t.mock.method(console, 'error', () => {})
  const server = Fastify()
  await server.register(backgroundTasks)
  server.get('/', async (req) => {
    req.background.add(function quietJob() {
      throw new Error('nobody listens')
    })
    return 'ok'
  })
  await server.listen({ port: 0, host: '127.0.0.1' })
  await (await fetch(`http://127.0.0.1:${(server.server.address() as AddressInfo).port}`)).text()
  await server.close()
  assert.equal(errors.mock.callCount(), 1)
  assert.match(String(errors.mock.calls[0]?.arguments[0]), /quietJob/)
})

test('functions run in the order added, one after another', async () => {
  const seen: string[] = []
  const { server, url } = await listen((s) => {
    s.get('/', async (req) => {
      req.background.add(async (x: string) => {
        await new Promise((r) => setTimeout(r, 20))
        seen.push(x)
      }, 'a')
      req.background.add((x: string, n: number) => void seen.push(`${x}${n}`), 'b', 2)
      req.background.add(async () => void seen.push('c'))
      return 'ok'
    })
  })
  assert.equal((await fetch(url)).status, 200)
  await server.close()
  assert.deepEqual(seen, ['a', 'b2', 'c'])
})

test('a failing function is logged with its name; the others and the next request are unaffected', async () => {
  const seen: string[] = []
  const { server, url, logs } = await listen((s) => {
    s.get('/:n', async (req) => {
      const n = (req.params as { n: string }).n
      req.background.add(function failingJob() {
        throw new Error(`boom ${n}`)
      })
      req.background.add(async function rejectingJob() {
        throw new Error('async boom')
      })
      req.background.add((x: string) => void seen.push(x), n)
      return { n }
    })
  })
  assert.deepEqual(await (await fetch(`${url}/1`)).json(), { n: '1' })
  assert.deepEqual(await (await fetch(`${url}/2`)).json(), { n: '2' })
  await server.close()
  assert.deepEqual(seen.sort(), ['1', '2'])
  const errors = logs.filter((l) => l.level === 'error')
  assert.equal(errors.length, 4)
  assert.ok(
    errors.some(
      (l) =>
        l.obj.fn === 'failingJob' &&
        l.msg?.includes('failingJob') &&
        (l.obj.err as Error).message === 'boom 1',
    ),
  )
  assert.ok(errors.some((l) => l.obj.fn === 'rejectingJob'))
})

test('close() waits for running background work', async () => {
  const release = deferred()
  let finished = false
  const { server, url } = await listen((s) => {
    s.get('/', async (req) => {
      req.background.add(async () => {
        await release.promise
        finished = true
      })
      return 'ok'
    })
  })
  await (await fetch(url)).text()
  setTimeout(release.resolve, 100)
  const t0 = Date.now()
  await server.close()
  assert.equal(finished, true)
  assert.ok(Date.now() - t0 >= 90)
})

test('close() gives up after shutdownTimeout and logs what was abandoned', async () => {
  const release = deferred()
  const ran: string[] = []
  const { server, url, logs } = await listen((s) => {
    s.get('/', async (req) => {
      req.background.add(async function stuckJob() {
        await release.promise
      })
      req.background.add(function neverStarted() {
        ran.push('neverStarted')
      })
      return 'ok'
    })
  }, 150)
  await (await fetch(url)).text()
  const t0 = Date.now()
  await server.close()
  const took = Date.now() - t0
  assert.ok(took >= 140 && took < 2000, `took ${took} ms`)
  const warn = logs.find((l) => l.level === 'warn')
  assert.deepEqual(warn?.obj.abandoned, ['stuckJob (running)', 'neverStarted (not started)'])
  release.resolve()
  await new Promise((r) => setTimeout(r, 20))
  assert.deepEqual(ran, [], 'nothing starts after shutdown gave up')
})

const app = createApp({ broker: 'memory://http-test', resultBackend: 'memory://http-test' })
after(() => app.close())

test('status route: PENDING for an unknown id, SUCCESS with the decoded result, 400 for a bad id', async () => {
  const store = (await app.resultStore())!
  const base = {
    task: 'report.build',
    error: null,
    retries: 1,
    worker: null,
    startedAt: 1_000,
    doneAt: 2_000,
    updatedAt: 2_000,
    expiresAt: null,
  }
  const result = encode({
    n: 12345678901234567890n,
    at: new Date(0),
    tags: new Set(['a']),
    m: new Map([['k', 1]]),
    buf: Buffer.from('hi'),
  })
  await store.set([{ ...base, id: 'done-1', state: 'SUCCESS', result }])
  await store.set([
    { ...base, id: 'failed-1', state: 'FAILURE', result: null, error: encode(new TypeError('bad input')) },
  ])
  const { server, url } = await listen(async (s) => {
    await s.register(taskStatusRoutes, { app })
    await s.register(taskStatusRoutes, { app, prefix: '/api/jobs' })
  })

  const pending = await fetch(`${url}/tasks/never-seen`)
  assert.equal(pending.status, 200)
  assert.deepEqual(await pending.json(), {
    id: 'never-seen',
    state: 'PENDING',
    retries: 0,
    task: null,
    startedAt: null,
    doneAt: null,
    updatedAt: null,
  })

  const done = await fetch(`${url}/api/jobs/done-1`)
  assert.equal(done.status, 200)
  assert.deepEqual(await done.json(), {
    id: 'done-1',
    state: 'SUCCESS',
    retries: 1,
    task: 'report.build',
    startedAt: '1970-01-01T00:00:01.000Z',
    doneAt: '1970-01-01T00:00:02.000Z',
    updatedAt: '1970-01-01T00:00:02.000Z',
    result: {
      n: '12345678901234567890',
      at: '1970-01-01T00:00:00.000Z',
      tags: ['a'],
      m: [['k', 1]],
      buf: 'aGk=',
    },
  })

  const failed = (await (await fetch(`${url}/tasks/failed-1`)).json()) as { state: string; error: unknown }
  assert.equal(failed.state, 'FAILURE')
  assert.deepEqual(failed.error, { name: 'TypeError', message: 'bad input' })

  // Longer than Fastify's default maxParamLength (100) but within ours.
  assert.equal((await fetch(`${url}/tasks/${'x'.repeat(150)}`)).status, 200)
  const tooLong = await fetch(`${url}/tasks/${'x'.repeat(201)}`)
  assert.equal(tooLong.status, 400)
  assert.match(
    ((await tooLong.json()) as { error: { message: string } }).error.message,
    /1 to 200 characters/,
  )
  assert.equal((await fetch(`${url}/tasks/`)).status, 400)
  assert.equal((await fetch(`${url}/tasks/a/b`)).status, 404)
  await server.close()
})
