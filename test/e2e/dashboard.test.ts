/**
 * The dashboard across real processes, on SQLite and on Redis: a `celeriac worker --events`
 * process and a `celeriac dashboard` process of test/fixtures/dashboard-tasks.ts, talked to over
 * real HTTP as a browser would. Authentication, CSRF refusals, listing a task sent by the test,
 * actions (pause/resume, revoke, pool-grow, dead-letter replay and delete), the `<script>`
 * payload coming back as JSON text, and history surviving a dashboard restart.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { run, tempDir, until, ROOT, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/dashboard-tasks.ts')
const UI = join(ROOT, 'src/dashboard/ui')
const XSS = '<script>alert("x")</script>'
const PASSWORD = 'correct horse battery staple'

const engines = [
  { name: 'sqlite', url: () => ({ url: `sqlite://${join(tempDir(), 'queue.db')}`, prefix: null }) },
  { name: 'redis', url: () => withPrefix(REDIS_BASE, 'dashboard') },
]

interface Client {
  readonly base: string
  get(path: string, headers?: Record<string, string>): Promise<Response>
  json<T = Record<string, unknown>>(path: string): Promise<T>
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>
}

function client(base: string, auth: Record<string, string>): Client {
  return {
    base,
    get: (path, headers = {}) =>
      fetch(new URL(path, base), { headers: { ...auth, ...headers }, redirect: 'manual' }),
    async json<T>(path: string) {
      const r = await fetch(new URL(path, base), { headers: auth })
      assert.equal(r.status, 200, `${path}: ${r.status} ${await r.clone().text()}`)
      return (await r.json()) as T
    },
    post: (path, body = {}, headers = { 'x-celeriac-csrf': '1' }) =>
      fetch(new URL(path, base), {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        redirect: 'manual',
      }),
  }
}

async function startDashboard(
  env: Record<string, string>,
  procs: Proc[],
): Promise<{ proc: Proc; base: string }> {
  const proc = run(['-A', FIXTURE, 'dashboard', '--port', '0'], env)
  procs.push(proc)
  await proc.waitFor(/celeriac dashboard on http:\/\/\S+/)
  return { proc, base: /celeriac dashboard on (http:\/\/\S+)/.exec(proc.output())![1]! }
}

interface TaskRow {
  id: string
  task: string
  state: string
  reason: string | null
}

for (const engine of engines) {
  describe(`dashboard on ${engine.name} (real processes, real HTTP)`, () => {
    const procs: Proc[] = []
    const apps: App[] = []
    const prefixes: string[] = []
    after(async () => {
      for (const p of procs) p.kill('SIGKILL')
      for (const a of apps) await a.close()
      for (const p of prefixes) await deletePrefix(REDIS_BASE, p)
    })

    it('refuses without credentials, signs in, lists and acts on tasks, keeps history across a restart', async () => {
      const { url, prefix } = engine.url()
      if (prefix) prefixes.push(prefix)
      const app = createApp({ broker: url })
      apps.push(app)
      const env = { CELERIAC_BROKER: url, CELERIAC_DASHBOARD_PASSWORD: PASSWORD }
      const worker = run(
        ['-A', FIXTURE, 'worker', '--no-banner', '-E', '-n', 'w1', '-c', '2', '--heartbeat', '300ms'],
        env,
      )
      procs.push(worker)
      let { proc: dash, base } = await startDashboard(env, procs)

      // Without credentials: pages redirect to the login form, the API and /metrics say 401.
      const anon = client(base, {})
      const page = await anon.get('/tasks')
      assert.equal(page.status, 303)
      assert.equal(page.headers.get('location'), '/login')
      for (const path of ['/api/tasks', '/api/overview', '/metrics', '/static/app.js', '/api/live']) {
        const r = await anon.get(path)
        assert.equal(r.status, 401, path)
        assert.match(r.headers.get('www-authenticate') ?? '', /^Basic/)
      }
      assert.equal((await anon.post('/api/queues/default/pause')).status, 401)
      assert.equal((await anon.get('/', { authorization: `Basic ${btoa('admin:wrong')}` })).status, 303)

      // The login form: a wrong password goes back to the form; the right one sets the cookie.
      const login = (password: string) =>
        fetch(new URL('/login', base), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ user: 'admin', password }),
          redirect: 'manual',
        })
      const refused = await login('nope')
      assert.equal(refused.headers.get('location'), '/login?failed=1')
      assert.equal(refused.headers.get('set-cookie'), null)
      const signed = await login(PASSWORD)
      assert.equal(signed.status, 303)
      const cookie = signed.headers.get('set-cookie') ?? ''
      assert.match(cookie, /HttpOnly/)
      assert.match(cookie, /SameSite=Strict/)
      const web = client(base, { cookie: cookie.split(';')[0]! })
      const shell = await web.get('/tasks')
      assert.equal(shell.status, 200)
      assert.match(shell.headers.get('content-security-policy') ?? '', /script-src 'self'/)
      assert.doesNotMatch(await shell.text(), /<script>[^<]/, 'no inline script in the shell')
      assert.equal((await web.get('/static/app.js')).status, 200)
      // Basic auth works as well as the cookie.
      const basic = client(base, { authorization: `Basic ${btoa(`admin:${PASSWORD}`)}` })
      await basic.json('/api/overview')

      // A task sent by the test, and one whose arguments and error carry markup.
      const echo = await app.sendTask('echo', [XSS])
      const boom = await app.sendTask('boom', [XSS])
      assert.equal(await echo.get({ timeout: 20_000 }), XSS)
      let tasks: TaskRow[] = []
      await until(
        async () => {
          tasks = (await web.json<{ tasks: TaskRow[] }>('/api/tasks')).tasks
          return (
            tasks.some((t) => t.id === echo.id && t.state === 'SUCCESS') &&
            tasks.some((t) => t.id === boom.id && t.state === 'FAILURE')
          )
        },
        20_000,
        'both tasks listed',
      )
      const failed = tasks.find((t) => t.id === boom.id)!
      assert.equal(
        failed.reason,
        `failed: Error: boom ${XSS}`,
        'the markup comes back as JSON text, unchanged',
      )
      const filtered = await web.json<{ tasks: TaskRow[] }>('/api/tasks?state=FAILURE&task=boom')
      assert.deepEqual(
        filtered.tasks.map((t) => t.id),
        [boom.id],
      )
      const byId = await web.json<{ tasks: TaskRow[] }>(`/api/tasks?id=${echo.id}`)
      assert.deepEqual(
        byId.tasks.map((t) => t.id),
        [echo.id],
      )
      const detail = await web.json<{ args: string; error: { message: string }; state: string }>(
        `/api/tasks/${boom.id}`,
      )
      assert.equal(detail.state, 'FAILURE')
      assert.deepEqual(JSON.parse(detail.args), [[XSS], {}])
      assert.equal(detail.error.message, `boom ${XSS}`)
      const echoed = await web.json<{ result: string }>(`/api/tasks/${echo.id}`)
      assert.equal(echoed.result, XSS)

      // Actions need the CSRF header, and a same-origin Origin when one is sent.
      assert.equal((await web.post('/api/queues/default/pause', {}, {})).status, 403)
      assert.equal(
        (
          await web.post(
            '/api/queues/default/pause',
            {},
            { 'x-celeriac-csrf': '1', origin: 'https://evil.example' },
          )
        ).status,
        403,
      )
      const stats = async () =>
        (
          await web.json<{ queues: { queue: string; paused: boolean; waiting: number }[] }>('/api/queues')
        ).queues.find((q) => q.queue === 'default')!
      assert.equal((await stats()).paused, false, 'the refused requests changed nothing')

      // Pause: a task sent meanwhile waits; resume: it runs.
      assert.equal(
        (
          await web.post(
            '/api/queues/default/pause',
            {},
            { 'x-celeriac-csrf': '1', origin: base.replace(/\/$/, '') },
          )
        ).status,
        200,
      )
      assert.equal((await stats()).paused, true)
      const held = await app.sendTask('echo', ['held'])
      await new Promise((r) => setTimeout(r, 1500))
      assert.equal(await held.state(), 'PENDING', 'a paused queue delivers nothing')
      assert.equal((await stats()).waiting, 1)
      assert.equal((await web.post('/api/queues/default/resume')).status, 200)
      assert.equal(await held.get({ timeout: 20_000 }), 'held')

      // Revoke a running task from the dashboard.
      const long = await app.sendTask('waits', [60_000])
      await until(
        async () =>
          (await long.state()) === 'STARTED' ||
          (await web.json<{ tasks: TaskRow[] }>(`/api/tasks?id=${long.id}`)).tasks[0]?.state === 'STARTED',
        20_000,
        'started',
      )
      assert.equal((await web.post(`/api/tasks/${long.id}/revoke`)).status, 200)
      await assert.rejects(long.get({ timeout: 20_000 }), { name: 'TaskRevokedError' })

      // A worker action: grow its pool by one.
      const grown = await web.post('/api/workers/w1/pool-grow', { n: 1 })
      assert.equal(grown.status, 200, await grown.clone().text())
      assert.deepEqual(((await grown.json()) as { result: unknown }).result, { concurrency: 3 })
      const workers = (
        await web.json<{
          workers: { name: string; online: boolean; concurrency: number; heartbeatAgeMs: number }[]
        }>('/api/workers')
      ).workers
      const w1 = workers.find((w) => w.name === 'w1')!
      assert.equal(w1.online, true)
      assert.ok(w1.heartbeatAgeMs < 10_000)

      // Dead letters: the failed task is there with its markup; replay runs it again (it fails
      // again, a later delivery), delete removes it.
      type Dead = {
        dead: { id: string; reason: string; args: unknown; failedAt: number; deliveries: number }[]
      }
      const dead = (await web.json<Dead>('/api/dead')).dead
      const entry = dead.find((d) => d.id === boom.id)!
      assert.deepEqual(entry.args, [[XSS], {}])
      assert.equal(entry.reason, `failed: Error: boom ${XSS}`)
      const replayed = await web.post('/api/dead/replay', { ids: [boom.id] })
      assert.deepEqual(await replayed.json(), { replayed: 1 })
      await until(
        async () =>
          (await web.json<Dead>('/api/dead')).dead.some(
            (d) => d.id === boom.id && d.failedAt > entry.failedAt,
          ),
        20_000,
        'the replayed task ran and failed again',
      )
      assert.equal((await web.post('/api/dead/replay', { ids: 'all' })).status, 400, 'bad input is named')
      assert.deepEqual(await (await web.post('/api/dead/delete', { ids: [boom.id] })).json(), { deleted: 1 })
      assert.equal((await web.json<Dead>('/api/dead')).dead.length, 0)

      // /metrics in Prometheus text.
      const metrics = await (await web.get('/metrics')).text()
      assert.match(metrics, /celeriac_queue_jobs\{queue="default",state="waiting"\} \d+/)
      assert.match(metrics, /celeriac_workers_online 1/)

      // Live updates: the SSE stream sends a tick with queue counts.
      const live = await fetch(new URL('/api/live', base), { headers: { cookie: cookie.split(';')[0]! } })
      assert.match(live.headers.get('content-type') ?? '', /text\/event-stream/)
      const reader = live.body!.getReader()
      let text = ''
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value)
      await reader.cancel()
      assert.match(text, /^event: tick\ndata: \{.*"queues":\[/)

      // History survives: a new dashboard process lists what the old one showed.
      dash.kill('SIGTERM')
      assert.equal(await dash.exited(), 0)
      ;({ proc: dash, base } = await startDashboard(env, procs))
      const again = await client(base, { cookie: cookie.split(';')[0]! }).json<{ tasks: TaskRow[] }>(
        '/api/tasks',
      )
      for (const id of [echo.id, boom.id, held.id, long.id])
        assert.ok(
          again.tasks.some((t) => t.id === id),
          id,
        )
      worker.kill('SIGTERM')
      dash.kill('SIGTERM')
    })
  })
}

describe('dashboard: startup refusals and the front end never parses data as HTML', () => {
  it('refuses to start without a password, and without auth off loopback', async () => {
    const url = `sqlite://${join(tempDir(), 'q.db')}`
    const noPass = run(['-A', FIXTURE, 'dashboard', '--port', '0'], {
      CELERIAC_BROKER: url,
      CELERIAC_DASHBOARD_PASSWORD: '',
    })
    assert.equal(await noPass.exited(), 1)
    assert.match(noPass.output(), /CELERIAC_DASHBOARD_PASSWORD/)
    const open = run(['-A', FIXTURE, 'dashboard', '--port', '0', '--host', '0.0.0.0', '--insecure-no-auth'], {
      CELERIAC_BROKER: url,
      CELERIAC_DASHBOARD_PASSWORD: '',
    })
    assert.equal(await open.exited(), 1)
    assert.match(open.output(), /only on loopback/)
    const local = run(['-A', FIXTURE, 'dashboard', '--port', '0', '--insecure-no-auth'], {
      CELERIAC_BROKER: url,
      CELERIAC_DASHBOARD_PASSWORD: '',
    })
    try {
      await local.waitFor(/no authentication/)
      const base = /on (http:\/\/\S+)/.exec(local.output())![1]!
      assert.equal((await fetch(new URL('/api/overview', base))).status, 200)
    } finally {
      local.kill('SIGKILL')
    }
  })

  it('no front-end file uses innerHTML or any other HTML parser for data', () => {
    const files = readdirSync(UI).filter((f) => f.endsWith('.js'))
    assert.ok(files.length >= 3)
    for (const f of files) {
      const src = readFileSync(join(UI, f), 'utf8')
      assert.doesNotMatch(
        src,
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|\beval\(|new Function/,
        f,
      )
    }
    for (const f of readdirSync(UI).filter((x) => x.endsWith('.html')))
      assert.doesNotMatch(
        readFileSync(join(UI, f), 'utf8'),
        /<script>|\son[a-z]+=/,
        `${f}: no inline script or handler`,
      )
  })
})
