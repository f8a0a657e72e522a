/**
 * The reference service, examples/users-api, as a newcomer runs it: the launcher starts the API,
 * a worker and the SMTP sink as real processes on free ports, with the databases and the mail
 * folder in a temporary directory.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT, tempDir, until } from './helpers.js'

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => res(port))
    })
  })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

interface TaskStatus {
  state: string
  retries: number
  result?: { messageId: string; accepted: string[] }
  error?: { name: string; message: string }
}

describe('examples/users-api', { timeout: 180_000 }, () => {
  const dir = tempDir('celeriac-users-api-')
  const mailDir = join(dir, 'mail')
  let api = ''
  let launcher: ChildProcess
  let out = ''
  let exit: Promise<number | null>

  const count = (re: RegExp) => out.match(new RegExp(re.source, 'g'))?.length ?? 0
  const waitOut = (re: RegExp, times = 1, ms = 60_000) =>
    until(() => count(re) >= times, ms, `${re} in:\n${out}`)
  /** Pids of the services, as the launcher announces them (`api started (pid 123)`). */
  const pids = () =>
    [...out.matchAll(/\b(?:api|worker|smtp) started \(pid (\d+)\)/g)].map((m) => Number(m[1]))

  async function post(body: unknown): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
    const t0 = performance.now()
    const res = await fetch(`${api}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const json = (await res.json()) as Record<string, unknown>
    return { status: res.status, body: json, ms: performance.now() - t0 }
  }
  async function task(id: string): Promise<TaskStatus> {
    const res = await fetch(`${api}/tasks/${id}`)
    assert.equal(res.status, 200)
    return (await res.json()) as TaskStatus
  }
  async function taskReaches(id: string, state: string, ms: number): Promise<TaskStatus> {
    let last: TaskStatus | undefined
    await until(
      async () => (last = await task(id)).state === state,
      ms,
      `task ${id} ${state} (last: ${JSON.stringify(last)})`,
    )
    return last!
  }
  /** The .eml files in the mail folder addressed to `to`. */
  function mailsTo(to: string): string[] {
    if (!existsSync(mailDir)) return []
    return readdirSync(mailDir)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => readFileSync(join(mailDir, f), 'utf8'))
      .filter((m) => new RegExp(`^To: ${to.replace(/[.]/g, '\\.')}\\r?$`, 'm').test(m))
  }

  before(async () => {
    const [port, smtpPort] = [await freePort(), await freePort()]
    api = `http://127.0.0.1:${port}`
    launcher = spawn(process.execPath, ['--import', 'tsx', 'examples/users-api/start.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        SMTP_PORT: String(smtpPort),
        DATA_DIR: join(dir, 'data'),
        MAIL_DIR: mailDir,
        CELERIAC_BROKER: `sqlite://${join(dir, 'data', 'queue.db')}`,
        SMTP_URL: '',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const collect = (b: Buffer) => (out += b.toString())
    launcher.stdout!.on('data', collect)
    launcher.stderr!.on('data', collect)
    exit = new Promise((res) => launcher.once('exit', (code) => res(code)))
    await waitOut(/users-api is running/)
  })

  after(async () => {
    if (launcher.exitCode === null && launcher.signalCode === null) {
      launcher.kill('SIGTERM')
      const timer = setTimeout(() => launcher.kill('SIGKILL'), 40_000)
      await exit
      clearTimeout(timer)
    }
    for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })

  let adaTask = ''

  it('creates a user: 201 with the user and a task id; the welcome mail lands as an .eml file', async () => {
    const r = await post({ email: 'Ada@Example.com ', name: 'Ada Lovelace' })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const user = r.body.user as { id: number; email: string; name: string }
    assert.equal(user.email, 'ada@example.com')
    assert.equal(user.name, 'Ada Lovelace')
    assert.equal(typeof r.body.welcomeTask, 'string')
    adaTask = r.body.welcomeTask as string
    assert.equal(r.body.taskUrl, `/tasks/${adaTask}`)

    await until(() => mailsTo('ada@example.com').length === 1, 15_000, 'the mail to ada')
    assert.match(mailsTo('ada@example.com')[0]!, /^Subject: Welcome, Ada Lovelace!/m)
    const st = await taskReaches(adaTask, 'SUCCESS', 10_000)
    assert.deepEqual(st.result?.accepted, ['ada@example.com'])
    assert.match(st.result!.messageId, /^<.+@.+>$/)

    const got = await fetch(`${api}/users/${user.id}`)
    assert.equal(got.status, 200)
    assert.deepEqual(await got.json(), user)
    assert.equal((await fetch(`${api}/users/999999`)).status, 404)

    const auditFile = join(dir, 'data', 'audit.log')
    await until(() => existsSync(auditFile), 5_000, 'the audit log')
    const line = JSON.parse(readFileSync(auditFile, 'utf8').trim().split('\n')[0]!) as Record<string, unknown>
    assert.equal(line.event, 'user.created')
    assert.equal(line.userId, user.id)
  })

  it('a bad body answers 400 naming the field; a taken email 409', async () => {
    const bad = await post({ email: 'not-an-email', name: 'X' })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error, 'invalid body')
    assert.equal(bad.body.field, 'email')
    assert.match(bad.body.message as string, /email/)

    const noName = await post({ email: 'x@example.com' })
    assert.equal(noName.status, 400)
    assert.equal(noName.body.field, 'name')
    assert.equal(noName.body.message, 'name is required')

    const dup = await post({ email: 'ADA@example.com', name: 'Ada again' })
    assert.equal(dup.status, 409)
    assert.equal(dup.body.field, 'email')
    assert.equal(mailsTo('x@example.com').length, 0)
  })

  it('SMTP down: the API still answers at once, the task goes RETRY, then SUCCESS once SMTP is back', async () => {
    launcher.stdin!.write('smtp off\n')
    await waitOut(/SMTP sink stopped/, 1, 15_000)

    const r = await post({ email: 'grace@example.com', name: 'Grace Hopper' })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.ok(r.ms < 1500, `POST /users took ${r.ms.toFixed(0)} ms with the mail server down`)
    const id = r.body.welcomeTask as string

    const retrying = await taskReaches(id, 'RETRY', 15_000)
    assert.ok(retrying.retries >= 1)
    assert.match(retrying.error!.message, /ECONNREFUSED|connect/i)
    assert.equal(mailsTo('grace@example.com').length, 0)

    launcher.stdin!.write('smtp on\n')
    await waitOut(/SMTP sink ready/, 2, 30_000)
    const done = await taskReaches(id, 'SUCCESS', 60_000)
    assert.deepEqual(done.result?.accepted, ['grace@example.com'])
    await until(() => mailsTo('grace@example.com').length === 1, 5_000, 'the mail to grace')
  })

  it('SIGTERM stops every service and the launcher exits 0', async () => {
    const services = pids()
    assert.ok(services.length >= 4, `api, worker, smtp twice: ${services.join(', ')}`)
    launcher.kill('SIGTERM')
    assert.equal(await exit, 0, out)
    assert.match(out, /all stopped/)
    await until(() => services.every((pid) => !alive(pid)), 5_000, 'the services to be gone')
  })
})
