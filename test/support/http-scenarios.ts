/**
 * The scenarios every HTTP integration (Fastify, Hono, Express) must pass, against a real server
 * on 127.0.0.1 port 0 and real `fetch` requests. Each framework's test file supplies an
 * `HttpTarget` (how to start a server with some routes, how to mount the status route) and calls
 *   httpScenarios(target)
 * then adds its own framework-specific tests. Test names are the same for every framework, so a
 * failure reads the same in each file.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import type { BackgroundLogger, BackgroundOptions, BackgroundTasks } from '../../src/http/background.js'
import { createApp, encode, type App } from '../../src/index.js'

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
  handle(req: ScenarioRequest): string | Record<string, unknown>
}

/** A server that is listening. */
export interface RunningServer {
  readonly url: string
  /** Waits for background work, as the framework's tracker does. */
  drain(timeoutMs: number): Promise<boolean>
  /** Closes the server the framework's way; resolves with drain's outcome where it reports one. */
  close(): Promise<boolean | undefined>
}

export interface HttpTarget {
  /**
   * Whether `close()` reports whether background work finished in time (Hono's and Express's
   * `bg.close(server)` do; Fastify's `server.close()` resolves with nothing).
   */
  readonly closeReportsOutcome: boolean
  /** Starts a server with the background middleware and these routes. */
  start(routes: readonly ScenarioRoute[], options: BackgroundOptions): Promise<RunningServer>
  /**
   * Starts a server with `app`'s status route mounted at `/tasks/:id` and again at
   * `/api/jobs/:id`, each the way the framework's users would write it.
   */
  startStatus(app: App): Promise<RunningServer>
  /** More checks on the status server, for what only this framework's mount sets up. */
  checkStatus?(url: string): Promise<void>
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
  /** Closes; where the framework reports it, checks that background work finished in time or not. */
  async function close(server: RunningServer, finishedInTime?: boolean): Promise<void> {
    const outcome = await server.close()
    if (target.closeReportsOutcome && finishedInTime !== undefined) assert.equal(outcome, finishedInTime)
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
      fence: null,
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
    const server = await target.startStatus(app)
    const { url } = server

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
    await target.checkStatus?.(url)
    await close(server)
  })
}
