/**
 * The scenarios every HTTP integration (Fastify, Hono, Express) must pass, against a real server
 * on 127.0.0.1 port 0 and real requests. Each framework's test file supplies an `HttpTarget` (how
 * to start a server with some routes, how to mount the status route) and calls
 *   httpScenarios(target)
 * then adds its own framework-specific tests. Test names are the same for every framework, so a
 * failure reads the same in each file. Sections: background work, shutdown, status route.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { after, test } from 'node:test'
import type { BackgroundLogger, BackgroundOptions, BackgroundTasks } from '../../src/http/background.js'
import type { ShutdownReport } from '../../src/http/shutdown.js'
import {
  STORE_UNAVAILABLE,
  TASK_NOT_FOUND,
  type TaskStatusBody,
  type TaskStatusOptions,
} from '../../src/http/status.js'
import { createApp, encode, type App, type ResultRecord } from '../../src/index.js'

/** What a route handler sees, whatever the framework. */
export interface ScenarioRequest {
  readonly background: BackgroundTasks
  readonly params: Readonly<Record<string, string>>
  /** The Node response's `writableFinished`: whether the response has been sent. */
  responseFinished(): boolean
}

/** A route: a string answers as text, an object as JSON, with status 200. */
export interface ScenarioRoute {
  readonly path: '/' | '/:n'
  handle(req: ScenarioRequest): string | Record<string, unknown> | Promise<string | Record<string, unknown>>
}

/** A server that is listening. */
export interface RunningServer {
  readonly url: string
  /** Waits for background work, as the framework's tracker does. */
  drain(timeoutMs: number): Promise<boolean>
  /** Closes the server the framework's documented way; resolves whether everything finished in time. */
  close(): Promise<boolean>
  /** How the last close went (the runner's report). */
  report(): ShutdownReport | null
}

export interface HttpTarget {
  /** Starts a server with the background middleware and these routes. */
  start(routes: readonly ScenarioRoute[], options: BackgroundOptions): Promise<RunningServer>
  /**
   * Starts a server with `app`'s status route mounted at `/tasks/:id` and again at
   * `/api/jobs/:id`, each the way the framework's users would write it, with `options`.
   */
  startStatus(app: App, options?: TaskStatusOptions): Promise<RunningServer>
  /** A request header, from what the status hooks receive as `req` (Hono: the Context). */
  header(req: unknown, name: string): string | undefined
  /** More checks on the status server, for what only this framework's mount sets up. */
  checkStatus?(url: string): Promise<void>
  /**
   * The `code` of the 400 for a malformed %-escape: ours (INVALID_TASK_ID), or Fastify's
   * FST_ERR_BAD_URL (Fastify rejects such a URL before any route sees it).
   */
  readonly malformedEscapeCode: string
  /** The docs/http.md section whose SIGTERM handler is checked, and the app it runs in. */
  readonly sigterm: {
    readonly heading: string
    /**
     * A JS module (ESM, run by `node --import tsx` from the repository root) that serves `GET /`
     * adding the function `work` (defined before it) to the request's background tasks, on
     * 127.0.0.1 port 0, with `shutdownTimeout: '5s'`; then `handler`; then prints `LISTENING <port>`.
     * `src` is the absolute path of src/http.
     */
    script(handler: string, src: string): string
  }
}
export interface Logged {
  level: 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

/** A logger that keeps what it is given. */
export function recorder(): { logger: BackgroundLogger; logs: Logged[] } {
  const logs: Logged[] = []
  const push = (level: Logged['level']) => (obj: object, msg?: string) =>
    logs.push({ level, obj: obj as Record<string, unknown>, msg })
  return { logs, logger: { warn: push('warn'), error: push('error') } }
}

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** Adds three functions (slow async, sync with two arguments, async) that record `IN_ORDER` into `seen`. */
export function addInOrder(background: BackgroundTasks, seen: string[]): void {
  background.add(async (x: string) => {
    await new Promise((r) => setTimeout(r, 20))
    seen.push(x)
  }, 'a')
  background.add((x: string, n: number) => void seen.push(`${x}${n}`), 'b', 2)
  background.add(async () => void seen.push('c'))
}

/** What `addInOrder` records once all three ran, one after another. */
export const IN_ORDER = ['a', 'b2', 'c']

/** Registers the shared scenarios as tests of the calling file. */
export function httpScenarios(target: HttpTarget): void {
  /** Closes; checks, when given, that everything finished in time or not. */
  async function close(server: RunningServer, finishedInTime?: boolean): Promise<void> {
    const outcome = await server.close()
    if (finishedInTime !== undefined) assert.equal(outcome, finishedInTime)
  }

  test('the response arrives before the background work finishes', async () => {
    const release = deferred()
    let finished = false
    let sentBeforeStart: boolean | undefined
    const server = await target.start(
      [
        {
          path: '/',
          handle: (req) => {
            req.background.add(async (ms: number) => {
              sentBeforeStart = req.responseFinished()
              await release.promise
              await new Promise((r) => setTimeout(r, ms))
              finished = true
            }, 1)
            return { ok: true }
          },
        },
      ],
      { logger: recorder().logger },
    )
    const res = await fetch(server.url)
    assert.deepEqual(await res.json(), { ok: true })
    assert.equal(finished, false)
    release.resolve()
    assert.equal(await server.drain(2000), true)
    assert.equal(finished, true)
    assert.equal(sentBeforeStart, true)
    await close(server, true)
  })

  test('functions run in the order added, one after another', async () => {
    const seen: string[] = []
    const server = await target.start(
      [
        {
          path: '/',
          handle: (req) => {
            addInOrder(req.background, seen)
            return 'ok'
          },
        },
      ],
      { logger: recorder().logger },
    )
    assert.equal((await fetch(server.url)).status, 200)
    await close(server)
    assert.deepEqual(seen, IN_ORDER)
  })

  test('a failing function is logged with its name; the others and the next request are unaffected', async () => {
    const seen: string[] = []
    const { logger, logs } = recorder()
    const server = await target.start(
      [
        {
          path: '/:n',
          handle: (req) => {
            const n = req.params.n!
            req.background.add(function failingJob() {
              throw new Error(`boom ${n}`)
            })
            req.background.add(async function rejectingJob() {
              throw new Error('async boom')
            })
            req.background.add((x: string) => void seen.push(x), n)
            return { n }
          },
        },
      ],
      { logger },
    )
    assert.deepEqual(await (await fetch(`${server.url}/1`)).json(), { n: '1' })
    assert.deepEqual(await (await fetch(`${server.url}/2`)).json(), { n: '2' })
    await close(server)
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
    const server = await target.start(
      [
        {
          path: '/',
          handle: (req) => {
            req.background.add(async () => {
              await release.promise
              finished = true
            })
            return 'ok'
          },
        },
      ],
      { logger: recorder().logger },
    )
    await (await fetch(server.url)).text()
    setTimeout(release.resolve, 100)
    const t0 = Date.now()
    await close(server, true)
    assert.equal(finished, true)
    assert.ok(Date.now() - t0 >= 90)
  })

  test('close() gives up after shutdownTimeout and logs what was abandoned', async () => {
    const release = deferred()
    const ran: string[] = []
    const { logger, logs } = recorder()
    const server = await target.start(
      [
        {
          path: '/',
          handle: (req) => {
            req.background.add(async function stuckJob() {
              await release.promise
            })
            req.background.add(function neverStarted() {
              ran.push('neverStarted')
            })
            return 'ok'
          },
        },
      ],
      { logger, shutdownTimeout: 150 },
    )
    await (await fetch(server.url)).text()
    const t0 = Date.now()
    await close(server, false)
    const took = Date.now() - t0
    assert.ok(took >= 140 && took < 2000, `took ${took} ms`)
    const warn = logs.find((l) => l.level === 'warn')
    assert.deepEqual(warn?.obj.abandoned, ['stuckJob (running)', 'neverStarted (not started)'])
    // The configured limit, not the time that was left for the drain.
    assert.equal(warn?.obj.timeoutMs, 150)
    assert.match(warn?.msg ?? '', /after \d+ ms \(limit 150 ms\)/)
    assert.deepEqual(server.report()?.abandoned, ['stuckJob (running)', 'neverStarted (not started)'])
    release.resolve()
    await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(ran, [], 'nothing starts after shutdown gave up')
  })

  shutdownScenarios(target)
  statusScenarios(target)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Rejects when `promise` takes longer than `ms`, so a hang fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

interface RawAnswer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
}

/** A GET with node:http, the path sent as written (fetch would resolve `..` and re-encode). */
function rawGet(
  base: string,
  path: string,
  options: { agent?: http.Agent; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: hostname, port, path, agent: options.agent ?? false, headers: options.headers },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
  })
}

function shutdownScenarios(target: HttpTarget): void {
  test('close() with a keep-alive request in flight finishes within the 1 s limit; that request gets Connection: close', async (t) => {
    const entered = deferred()
    let worked = false
    const server = await target.start(
      [
        {
          path: '/',
          handle: async (req) => {
            entered.resolve()
            await sleep(200)
            req.background.add(async () => {
              await sleep(100)
              worked = true
            })
            return { ok: true }
          },
        },
      ],
      { logger: recorder().logger, shutdownTimeout: '1s' },
    )
    const agent = new http.Agent({ keepAlive: true })
    try {
      const answer = rawGet(server.url, '/', { agent })
      await entered.promise
      const t0 = Date.now()
      const closed = server.close()
      const res = await answer
      assert.equal(res.status, 200)
      assert.equal(res.headers.connection, 'close')
      assert.equal(await within(closed, 3000, 'close()'), true)
      const took = Date.now() - t0
      t.diagnostic(`close() took ${took} ms (request 200 ms + background 100 ms in flight)`)
      assert.ok(took < 1000, `took ${took} ms`)
      assert.equal(worked, true)
      const { tookMs: _, ...report } = server.report()!
      assert.deepEqual(report, { finished: true, requestsCut: 0, abandoned: [], timeoutMs: 1000 })
    } finally {
      agent.destroy()
    }
  })

  test('close() cuts a request still open at the 1 s deadline and reports it with the abandoned work', async (t) => {
    const release = deferred()
    const entered = deferred()
    const { logger, logs } = recorder()
    const server = await target.start(
      [
        {
          path: '/:n',
          handle: async (req) => {
            if (req.params.n === 'stuck') {
              entered.resolve()
              await release.promise
              return 'late'
            }
            req.background.add(async function stuckJob() {
              await release.promise
            })
            return 'ok'
          },
        },
      ],
      { logger, shutdownTimeout: '1s' },
    )
    const agent = new http.Agent({ keepAlive: true })
    try {
      // Leaves a keep-alive connection idle and a background function running.
      assert.equal((await rawGet(server.url, '/work', { agent })).status, 200)
      const stuck = rawGet(server.url, '/stuck', { agent }).then(
        () => 'answered',
        () => 'cut',
      )
      await entered.promise
      const t0 = Date.now()
      const finished = await within(server.close(), 3000, 'close()')
      const took = Date.now() - t0
      t.diagnostic(`close() took ${took} ms (limit 1000 ms)`)
      assert.equal(finished, false)
      assert.ok(took >= 950 && took < 1500, `took ${took} ms`)
      assert.equal(await stuck, 'cut')
      const { tookMs: _, ...report } = server.report()!
      assert.deepEqual(report, {
        finished: false,
        requestsCut: 1,
        abandoned: ['stuckJob (running)'],
        timeoutMs: 1000,
      })
      const warn = logs.find((l) => l.level === 'warn' && l.msg?.includes('gave up'))
      assert.equal(warn?.obj.timeoutMs, 1000)
      assert.match(warn?.msg ?? '', /\(limit 1000 ms\)/)
    } finally {
      release.resolve()
      agent.destroy()
    }
  })

  test('the SIGTERM handler shown in docs/http.md waits for background work', async (t) => {
    const handler = docsSigtermHandler(target.sigterm.heading)
    const src = new URL('../../src/http/', import.meta.url).pathname
    const work = `const work = async function work() { await new Promise((r) => setTimeout(r, 400)); console.log('WORK DONE') }\n`
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', work + target.sigterm.script(handler, src)],
      { cwd: new URL('../../', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      const port = await within(
        new Promise<string>((resolve, reject) => {
          child.stdout.on('data', () => {
            const m = /LISTENING (\d+)/.exec(out)
            if (m) resolve(m[1]!)
          })
          void exited.then(() => reject(new Error(`child exited early: ${err}`)))
        }),
        20_000,
        'starting the app',
      )
      assert.equal((await rawGet(`http://127.0.0.1:${port}`, '/')).status, 200)
      const t0 = Date.now()
      child.kill('SIGTERM')
      const code = await within(exited, 8000, 'exiting after SIGTERM')
      t.diagnostic(`exited ${Date.now() - t0} ms after SIGTERM`)
      assert.equal(code, 0, err)
      assert.match(out, /WORK DONE/)
    } finally {
      child.kill('SIGKILL')
    }
  })
}

/**
 * The SIGTERM handler of a framework's example in docs/http.md: the lines from
 * `process.once('SIGTERM'` to the end of that code block, as a user would copy them.
 */
function docsSigtermHandler(heading: string): string {
  const docs = readFileSync(new URL('../../docs/http.md', import.meta.url), 'utf8')
  const start = docs.indexOf(`\n${heading}\n`)
  assert.ok(start >= 0, `docs/http.md has a "${heading}" section`)
  const section = docs.slice(start + heading.length + 2).split(/\n#{2,3} /)[0]!
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
  const at = block.indexOf("process.once('SIGTERM'")
  assert.ok(at >= 0, `the first example under "${heading}" shows a SIGTERM handler`)
  return block.slice(at)
}

function assertJsonHeaders(res: RawAnswer): void {
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
}

const BASE: Omit<ResultRecord, 'id' | 'state' | 'result' | 'error'> = {
  task: 'report.build',
  retries: 1,
  worker: 'w1@host',
  startedAt: 1_000,
  doneAt: 2_000,
  updatedAt: 2_000,
  expiresAt: null,
  fence: null,
}

function statusScenarios(target: HttpTarget): void {
  const app = createApp({ broker: 'memory://http-test', resultBackend: 'memory://http-test' })
  after(() => app.close())
  const stored = (async () => {
    const store = (await app.resultStore())!
    const result = encode({
      n: 12345678901234567890n,
      at: new Date(0),
      tags: new Set(['a']),
      m: new Map([['k', 1]]),
      buf: Buffer.from('hi'),
    })
    await store.set([
      { ...BASE, id: 'done-1', state: 'SUCCESS', result, error: null },
      {
        ...BASE,
        id: 'failed-1',
        state: 'FAILURE',
        result: null,
        error: encode(new TypeError('bad input at postgres://admin:hunter2@db:5432')),
      },
      {
        ...BASE,
        id: 'proto-1',
        state: 'SUCCESS',
        result: encode(JSON.parse('{"__proto__":{"admin":true},"a":1}')),
        error: null,
      },
    ])
  })()

  test('status route: PENDING for an unknown id, SUCCESS with the decoded result, FAILURE with the error', async (t) => {
    await stored
    const server = await target.startStatus(app)
    t.after(() => server.close())
    const { url } = server
    const pending = await rawGet(url, '/tasks/never-seen')
    assert.equal(pending.status, 200)
    assertJsonHeaders(pending)
    assert.deepEqual(JSON.parse(pending.text), {
      id: 'never-seen',
      state: 'PENDING',
      retries: 0,
      task: null,
      startedAt: null,
      doneAt: null,
      updatedAt: null,
    })
    const done = await rawGet(url, '/api/jobs/done-1')
    assert.equal(done.status, 200)
    assertJsonHeaders(done)
    assert.deepEqual(JSON.parse(done.text), {
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
    const failed = JSON.parse((await rawGet(url, '/tasks/failed-1')).text) as TaskStatusBody
    assert.equal(failed.state, 'FAILURE')
    assert.deepEqual(failed.error, {
      name: 'TypeError',
      message: 'bad input at postgres://admin:hunter2@db:5432',
    })
    await target.checkStatus?.(url)
  })

  test('status route: odd ids get the same answer on every framework', async (t) => {
    const server = await target.startStatus(app)
    t.after(() => server.close())
    const { url } = server
    const idOf = async (path: string): Promise<string> => {
      const res = await rawGet(url, path)
      assert.equal(res.status, 200, `${path}: ${res.text}`)
      assertJsonHeaders(res)
      return (JSON.parse(res.text) as TaskStatusBody).id
    }
    const invalid = async (path: string, message: RegExp, code = 'INVALID_TASK_ID'): Promise<void> => {
      const res = await rawGet(url, path)
      assert.equal(res.status, 400, `${path}: ${res.text}`)
      assert.match(res.headers['content-type'] ?? '', /^application\/json/)
      assert.doesNotMatch(res.text, /\n\s+at /, 'no stack')
      const body = JSON.parse(res.text) as { error: { code: string; message: string } } & { code?: string }
      assert.equal(body.error.code ?? body.code, code, path)
      if (code === 'INVALID_TASK_ID') {
        assertJsonHeaders(res)
        assert.match(body.error.message, message)
      }
    }
    const notFound = async (path: string): Promise<void> =>
      assert.equal((await rawGet(url, path)).status, 404, path)

    assert.equal(await idOf('/tasks/a%2Fb'), 'a/b')
    assert.equal(await idOf('/tasks/a%3Fb%23c%25d%20e+f'), 'a?b#c%d e+f')
    await invalid('/tasks/%zz', /percent-encoding/, target.malformedEscapeCode)
    await invalid('/tasks/%E0%A4%A', /percent-encoding/, target.malformedEscapeCode)
    // Dot segments mean what a URL parser makes of them (Hono's server resolves them first).
    await notFound('/tasks/..')
    await notFound('/tasks/%2E%2e')
    await invalid('/tasks/.', /it is empty/)
    await invalid('/tasks/', /it is empty/)
    await notFound('/tasks')
    await notFound('/tasks/x/')
    await notFound('/tasks/a/b')
    // The limit counts characters as users do: 200 emoji are 400 UTF-16 units.
    assert.equal(await idOf(`/tasks/${encodeURIComponent('😀'.repeat(200))}`), '😀'.repeat(200))
    await invalid(`/tasks/${encodeURIComponent('😀'.repeat(201))}`, /it is 201 characters long.*1 to 200/)
    // Longer than Fastify's default maxParamLength (100) but within ours.
    assert.equal(await idOf(`/tasks/${'x'.repeat(150)}`), 'x'.repeat(150))
    await invalid(`/tasks/${'x'.repeat(201)}`, /1 to 200 characters/)
  })

  test('status route: an unreadable result store answers a fixed JSON 503 that names nothing of it', async (t) => {
    const { logger, logs } = recorder()
    const unreachable = createApp({
      broker: 'memory://http-503',
      resultBackend: 'redis://celeriac:s3cret@127.0.0.1:1/0',
    })
    const none = createApp({ broker: 'memory://http-none', resultBackend: false })
    try {
      for (const app503 of [unreachable, none]) {
        const server = await target.startStatus(app503, { logger })
        t.after(() => server.close())
        const res = await within(rawGet(server.url, '/tasks/some-id'), 5000, 'the 503')
        assert.equal(res.status, 503)
        assertJsonHeaders(res)
        assert.deepEqual(JSON.parse(res.text), STORE_UNAVAILABLE)
      }
      // The answer says nothing; the log says why, for the operator.
      assert.equal(logs.length, 2)
      assert.match(String((logs[0]!.obj.err as Error).message), /127\.0\.0\.1:1/)
      assert.match(String((logs[1]!.obj.err as Error).message), /no result backend/)
    } finally {
      await Promise.all([unreachable.close(), none.close()])
    }
  })

  test('status route: authorize decides who reads a task, and a denial looks like an unknown task', async (t) => {
    await stored
    const seen: [string, string | null][] = []
    const server = await target.startStatus(app, {
      authorize: (req, record, id) => {
        seen.push([id, record?.task ?? null])
        return target.header(req, 'x-user') === 'alice'
      },
    })
    t.after(() => server.close())
    const get = (path: string, user: string): Promise<RawAnswer> =>
      rawGet(server.url, path, { headers: { 'x-user': user } })
    const allowed = await get('/tasks/done-1', 'alice')
    assert.equal(allowed.status, 200)
    assert.equal((JSON.parse(allowed.text) as TaskStatusBody).state, 'SUCCESS')
    for (const path of ['/tasks/done-1', '/api/jobs/never-seen']) {
      const denied = await get(path, 'mallory')
      assert.equal(denied.status, 404)
      assertJsonHeaders(denied)
      assert.deepEqual(JSON.parse(denied.text), TASK_NOT_FOUND)
    }
    assert.deepEqual(seen, [
      ['done-1', 'report.build'],
      ['done-1', 'report.build'],
      ['never-seen', null],
    ])
  })

  test('status route: serialize shapes the answer; hideErrorMessages leaves the error name only', async (t) => {
    await stored
    const server = await target.startStatus(app, {
      hideErrorMessages: true,
      includeStack: true,
      serialize: (body, req, record) => ({
        state: body.state,
        error: body.error,
        worker: record?.worker ?? null,
        asker: target.header(req, 'host')?.startsWith('127.0.0.1') ?? false,
      }),
    })
    t.after(() => server.close())
    const res = await rawGet(server.url, '/tasks/failed-1')
    assert.equal(res.status, 200)
    assertJsonHeaders(res)
    assert.deepEqual(JSON.parse(res.text), {
      state: 'FAILURE',
      error: { name: 'TypeError' },
      worker: 'w1@host',
      asker: true,
    })
    assert.doesNotMatch(res.text, /hunter2|bad input/)
  })

  test('status route: a result with a __proto__ key keeps it in the JSON', async (t) => {
    await stored
    const server = await target.startStatus(app)
    t.after(() => server.close())
    const res = await rawGet(server.url, '/tasks/proto-1')
    assert.equal(res.status, 200)
    const result = (JSON.parse(res.text) as TaskStatusBody).result as Record<string, unknown>
    assert.ok(Object.hasOwn(result, '__proto__'), res.text)
    assert.deepEqual(Object.getOwnPropertyDescriptor(result, '__proto__')?.value, { admin: true })
    assert.equal(result.a, 1)
  })
}
