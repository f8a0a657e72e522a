import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { after, test } from 'node:test'
import { serve, type HttpBindings, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import { createApp, encode } from '../index.js'
import type { BackgroundLogger } from './background.js'
import { backgroundTasks, taskStatusRoutes, type HonoBackground } from './hono.js'

type Api = Hono<{ Bindings: HttpBindings }>

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
  build: (api: Api) => void,
  shutdownTimeout = 5000,
): Promise<{ bg: HonoBackground; server: ServerType; url: string; logs: Logged[] }> {
  const { logger, logs } = recorder()
  const bg = backgroundTasks({ logger, shutdownTimeout })
  const api: Api = new Hono()
  api.use(bg)
  build(api)
  let server!: ServerType
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: api.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port))
  })
  return { bg, server, logs, url: `http://127.0.0.1:${port}` }
}

test('the response arrives before the background work finishes', async () => {
  const release = deferred()
  let finished = false
  let sentBeforeStart: boolean | undefined
  const { bg, server, url } = await listen((api) => {
    api.get('/', (c) => {
      const out: ServerResponse = c.env.outgoing
      c.get('background').add(async (ms: number) => {
        sentBeforeStart = out.writableFinished
        await release.promise
        await new Promise((r) => setTimeout(r, ms))
        finished = true
      }, 1)
      return c.json({ ok: true })
    })
  })
  const res = await fetch(url)
  assert.deepEqual(await res.json(), { ok: true })
  assert.equal(finished, false)
  release.resolve()
  assert.equal(await bg.drain(2000), true)
  assert.equal(finished, true)
  assert.equal(sentBeforeStart, true)
  assert.equal(await bg.close(server), true)
})

test('functions run in the order added, one after another (streamed response too)', async () => {
  const seen: string[] = []
  const { bg, server, url } = await listen((api) => {
    api.get('/', (c) => {
      c.get('background').add(async (x: string) => {
        await new Promise((r) => setTimeout(r, 20))
        seen.push(x)
      }, 'a')
      c.get('background').add((x: string, n: number) => void seen.push(`${x}${n}`), 'b', 2)
      c.get('background').add(async () => void seen.push('c'))
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('o'))
          await new Promise((r) => setTimeout(r, 30))
          assert.deepEqual(seen, [], 'nothing runs while the body streams')
          controller.enqueue(new TextEncoder().encode('k'))
          controller.close()
        },
      })
      return c.body(body)
    })
  })
  assert.equal(await (await fetch(url)).text(), 'ok')
  await bg.close(server)
  assert.deepEqual(seen, ['a', 'b2', 'c'])
})

test('a failing function is logged with its name; the others and the next request are unaffected', async () => {
  const seen: string[] = []
  const { bg, server, url, logs } = await listen((api) => {
    api.get('/:n', (c) => {
      const n = c.req.param('n')
      c.get('background').add(function failingJob() {
        throw new Error(`boom ${n}`)
      })
      c.get('background').add(async function rejectingJob() {
        throw new Error('async boom')
      })
      c.get('background').add((x: string) => void seen.push(x), n)
      return c.json({ n })
    })
  })
  assert.deepEqual(await (await fetch(`${url}/1`)).json(), { n: '1' })
  assert.deepEqual(await (await fetch(`${url}/2`)).json(), { n: '2' })
  await bg.close(server)
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
  const { bg, server, url } = await listen((api) => {
    api.get('/', (c) => {
      c.get('background').add(async () => {
        await release.promise
        finished = true
      })
      return c.text('ok')
    })
  })
  await (await fetch(url)).text()
  setTimeout(release.resolve, 100)
  const t0 = Date.now()
  assert.equal(await bg.close(server), true)
  assert.equal(finished, true)
  assert.ok(Date.now() - t0 >= 90)
})

test('close() gives up after the limit and logs what was abandoned', async () => {
  const release = deferred()
  const ran: string[] = []
  const { bg, server, url, logs } = await listen((api) => {
    api.get('/', (c) => {
      c.get('background').add(async function stuckJob() {
        await release.promise
      })
      c.get('background').add(function neverStarted() {
        ran.push('neverStarted')
      })
      return c.text('ok')
    })
  }, 150)
  await (await fetch(url)).text()
  const t0 = Date.now()
  assert.equal(await bg.close(server), false)
  const took = Date.now() - t0
  assert.ok(took >= 140 && took < 2000, `took ${took} ms`)
  const warn = logs.find((l) => l.level === 'warn')
  assert.deepEqual(warn?.obj.abandoned, ['stuckJob (running)', 'neverStarted (not started)'])
  release.resolve()
  await new Promise((r) => setTimeout(r, 20))
  assert.deepEqual(ran, [], 'nothing starts after shutdown gave up')
})

test('without a Node response (app.request, other runtimes) the work starts on a later macrotask', async () => {
  const bg = backgroundTasks({ logger: recorder().logger })
  const api = new Hono()
  api.use(bg)
  const seen: string[] = []
  api.get('/', (c) => {
    c.get('background').add((x: string) => void seen.push(x), 'later')
    return c.text('ok')
  })
  assert.equal(await (await api.request('/')).text(), 'ok')
  assert.deepEqual(seen, [])
  assert.equal(bg.runner.pending, 1, 'drain() already sees the scheduled work')
  assert.equal(await bg.drain(1000), true)
  assert.deepEqual(seen, ['later'])
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
  const { bg, server, url } = await listen((api) => {
    api.route('/', taskStatusRoutes(app))
    api.route('/api', taskStatusRoutes(app, { prefix: '/jobs' }))
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

  const tooLong = await fetch(`${url}/tasks/${'x'.repeat(201)}`)
  assert.equal(tooLong.status, 400)
  assert.match(
    ((await tooLong.json()) as { error: { message: string } }).error.message,
    /1 to 200 characters/,
  )
  assert.equal((await fetch(`${url}/tasks/`)).status, 400)
  await bg.close(server)
})
