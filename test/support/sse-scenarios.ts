/**
 * The scenarios of the task events route (`GET /tasks/:id/events`, server-sent events) that every
 * HTTP integration must pass, against a real server and a real HTTP client (node's fetch reading
 * the stream). Each framework's events test file supplies an `SseTarget` and calls
 *   sseScenarios(target)
 * The main scenario runs a real worker process (`celeriac worker -A test/fixtures/progress-tasks.ts`)
 * on SQLite and on Redis; the others use an in-process worker on the memory engine.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { pino } from 'pino'
import { openTaskEventStreams } from '../../src/http/events.js'
import { STORE_UNAVAILABLE, TASK_NOT_FOUND, type TaskStatusOptions } from '../../src/http/status.js'
import { createApp, encode, type App } from '../../src/index.js'
import { Worker } from '../../src/worker/index.js'
import { ROOT, run, tempDir, until } from '../e2e/helpers.js'
import { redisUrls, sqliteUrls, type EngineUrls } from './engine-urls.js'
import type { RunningServer } from './http-scenarios.js'

export interface SseTarget {
  /**
   * Starts a server with the background middleware (`shutdownTimeout` as given, default 5 s) and
   * `app`'s status routes at `/tasks`, with `options`, mounted as the framework's users would:
   * on Hono and Express with `events.background` set to the middleware, so that streams end when
   * the server starts closing.
   */
  start(app: App, options?: TaskStatusOptions, shutdownTimeout?: string): Promise<RunningServer>
}

export const PROGRESS_FIXTURE = join(ROOT, 'test/fixtures/progress-tasks.ts')

/** One server-sent event as a client reads it; a comment line is `{ comment }`. */
export interface ReadEvent {
  readonly event: string
  readonly data: string
  readonly comment?: string
}

/** Reads the events of a response as they arrive (the SSE format, enough of it for the route). */
export async function* readEvents(res: Response): AsyncGenerator<ReadEvent> {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let cut: number
      while ((cut = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        let event = 'message'
        const data: string[] = []
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) yield { event: '', data: '', comment: line.slice(1).trim() }
          else if (line.startsWith('event: ')) event = line.slice(7)
          else if (line.startsWith('data: ')) data.push(line.slice(6))
        }
        if (data.length) yield { event, data: data.join('\n') }
      }
    }
  } finally {
    reader.releaseLock()
  }
}

interface Body {
  state: string
  progress?: { step: number; of: number }
  result?: unknown
  error?: Record<string, unknown>
}

function progressOverSse(target: SseTarget, engine: EngineUrls): void {
  test(`events route on ${engine.name}: a worker process's progress reaches a fetch client live, then SUCCESS and the end`, async (t) => {
    const url = engine.url()
    const dir = tempDir('celeriac-sse-')
    const worker = run(['-A', PROGRESS_FIXTURE, 'worker', '--no-banner', '-c', '1'], {
      CELERIAC_BROKER: url,
    })
    const app = createApp({ broker: url })
    t.after(async () => {
      worker.kill('SIGTERM')
      await worker.exited()
      await app.close()
    })
    await worker.waitFor(/ready/)
    const server = await target.start(app)
    t.after(() => server.close())
    const sent = await app.sendTask('progress.stepped', [dir, 3])
    const res = await fetch(`${server.url}/tasks/${encodeURIComponent(sent.id)}/events`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(res.headers.get('cache-control'), 'no-store')
    const messages: Body[] = []
    let end: Body | null = null
    for await (const e of readEvents(res)) {
      if (e.comment !== undefined) continue
      const body = JSON.parse(e.data) as Body
      if (e.event === 'end') {
        end = body
        continue
      }
      assert.equal(e.event, 'message')
      messages.push(body)
      // The task goes on only once this client has seen its step: each value is seen live.
      if (body.progress) writeFileSync(join(dir, `go-${body.progress.step}`), '')
    }
    const steps = messages.filter((m) => m.progress).map((m) => m.progress)
    assert.deepEqual(steps, [
      { step: 1, of: 3 },
      { step: 2, of: 3 },
      { step: 3, of: 3 },
    ])
    assert.ok(
      messages.filter((m) => m.progress).every((m) => m.state === 'STARTED'),
      JSON.stringify(messages),
    )
    const last = messages.at(-1)!
    assert.equal(last.state, 'SUCCESS')
    assert.deepEqual(last.result, { steps: 3 })
    assert.equal(last.progress, undefined)
    assert.deepEqual(end, last)
    await until(() => openTaskEventStreams() === 0, 5000, 'the stream to be closed on the server')
  })
}

export function sseScenarios(target: SseTarget): void {
  for (const engine of [sqliteUrls(), redisUrls()]) {
    after(() => engine.cleanup())
    progressOverSse(target, engine)
  }

  const memory = `memory://sse-${randomUUID()}`
  const app = createApp({ broker: memory })
  const failing = app.task('fails', () => {
    throw new TypeError('bad input at postgres://admin:hunter2@db:5432')
  })
  const worker = new Worker(app, { concurrency: 2, logger: pino({ level: 'silent' }) })
  const started = worker.start()
  after(async () => {
    await worker.stop({ grace: 0 })
    await app.close()
  })

  test('events route: a client that goes away ends its stream and the follow behind it', async (t) => {
    await started
    const server = await target.start(app, { events: { heartbeat: 30 } })
    t.after(() => server.close())
    const ac = new AbortController()
    const res = await fetch(`${server.url}/tasks/never-sent/events`, { signal: ac.signal })
    const seen: ReadEvent[] = []
    try {
      for await (const e of readEvents(res)) {
        seen.push(e)
        if (seen.some((s) => s.comment === 'keep-alive') && seen.some((s) => s.event === 'message')) break
      }
    } finally {
      ac.abort()
    }
    assert.equal((JSON.parse(seen.find((s) => s.event === 'message')!.data) as Body).state, 'PENDING')
    await until(() => openTaskEventStreams() === 0, 5000, 'the stream to be closed on the server')
  })

  test('events route: closing the server ends open streams at once, well within its limit', async () => {
    await started
    const server = await target.start(app, {}, '5s')
    const res = await fetch(`${server.url}/tasks/never-sent/events`)
    const events = readEvents(res)
    assert.equal((await events.next()).value?.event, 'message')
    const t0 = Date.now()
    const finished = await server.close()
    const took = Date.now() - t0
    assert.equal(finished, true)
    assert.ok(took < 2500, `close() took ${took} ms with a stream open (limit 5000 ms)`)
    for await (const e of events) assert.notEqual(e.event, 'end')
    await until(() => openTaskEventStreams() === 0, 5000, 'the stream to be closed on the server')
  })

  test('events route: the same 400, 404 and 503 as the status route; the hooks shape each event', async (t) => {
    await started
    const denied = await target.start(app, { authorize: (_req, _rec, id) => id !== 'secret' })
    t.after(() => denied.close())
    const bad = await fetch(`${denied.url}/tasks/%zz/events`)
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'INVALID_TASK_ID')
    const no = await fetch(`${denied.url}/tasks/secret/events`)
    assert.equal(no.status, 404)
    assert.equal(no.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.deepEqual(await no.json(), TASK_NOT_FOUND)

    const down = createApp({ broker: memory, resultBackend: false })
    t.after(() => down.close())
    const unreadable = await target.start(down, { logger: { error() {} } })
    t.after(() => unreadable.close())
    const unavailable = await fetch(`${unreadable.url}/tasks/x/events`)
    assert.equal(unavailable.status, 503)
    assert.deepEqual(await unavailable.json(), STORE_UNAVAILABLE)

    const shaped = await target.start(app, {
      hideErrorMessages: true,
      serialize: (body) => ({ state: body.state, error: body.error, shaped: true }),
    })
    t.after(() => shaped.close())
    const r = await failing.delay()
    await assert.rejects(r.get({ timeout: 5000 }))
    const res = await fetch(`${shaped.url}/tasks/${r.id}/events`)
    const got: ReadEvent[] = []
    for await (const e of readEvents(res)) if (e.comment === undefined) got.push(e)
    assert.deepEqual(
      got.map((e) => e.event),
      ['message', 'end'],
    )
    assert.deepEqual(JSON.parse(got[0]!.data), {
      state: 'FAILURE',
      error: { name: 'TypeError' },
      shaped: true,
    })
    assert.doesNotMatch(got.map((e) => e.data).join(''), /hunter2|bad input/)
  })

  test('events route: events: false leaves it out', async (t) => {
    const store = (await app.resultStore())!
    await store.set([
      {
        id: 'done-sse',
        state: 'SUCCESS',
        task: 't',
        result: encode(1),
        error: null,
        retries: 0,
        worker: null,
        startedAt: null,
        doneAt: Date.now(),
        updatedAt: Date.now(),
        expiresAt: null,
        fence: null,
      },
    ])
    const server = await target.start(app, { events: false })
    t.after(() => server.close())
    assert.equal((await fetch(`${server.url}/tasks/done-sse/events`)).status, 404)
    assert.equal((await fetch(`${server.url}/tasks/done-sse`)).status, 200)
  })
}
