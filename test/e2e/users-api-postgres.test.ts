/**
 * examples/users-api on PostgreSQL: the users live in the broker's database and the welcome task
 * is sent inside the insert's transaction. The API process is SIGKILLed
 *
 * - while its transaction holds the inserted row and its send waits (the test holds a lock on the
 *   jobs table): after the kill neither the row nor the job exists;
 * - at random moments under a stream of creates: afterwards every user row has exactly its one
 *   job, every job its user, and every create answered 201 is there.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { postgresBaseUrl, postgresTestSchema, postgresUrl } from '../conformance/postgres-env.js'
import { Prng } from '../support/prng.js'
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

interface Api {
  readonly child: ChildProcess
  readonly url: string
  readonly exited: Promise<unknown>
}

describe('examples/users-api on PostgreSQL: the user and the welcome task commit together', () => {
  const schema = postgresTestSchema()
  const usersSchema = postgresTestSchema()
  const brokerUrl = postgresUrl(schema, 3)
  const dir = tempDir('celeriac-users-pg-')
  const db = new pg.Client({ connectionString: postgresBaseUrl() })
  let api: Api | null = null

  async function startApi(): Promise<Api> {
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/users-api/server.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        CELERIAC_BROKER: brokerUrl,
        USERS_SCHEMA: usersSchema,
        DATA_DIR: dir,
        CELERIAC_LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
    const exited = new Promise((r) => child.once('exit', r))
    await until(() => /users-api ready/.test(out) || child.exitCode !== null, 30_000, `api ready:\n${out}`)
    assert.match(out, /users-api ready/, out)
    return (api = { child, url: `http://127.0.0.1:${port}`, exited })
  }
  async function kill(a: Api): Promise<void> {
    a.child.kill('SIGKILL')
    await a.exited
  }
  const post = (a: Api, email: string) =>
    fetch(`${a.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, name: 'Someone' }),
    })
  const count = async (sql: string, values: unknown[] = []): Promise<number> =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values)).rows[0]!.n

  before(async () => {
    await db.connect()
  })
  after(async () => {
    if (api && api.child.exitCode === null && api.child.signalCode === null) await kill(api)
    // The example's tables live in usersSchema, dropped with the broker's schema after the file.
    await db.end()
  })

  it('killed while the insert waits on the send: neither the row nor the job exists', async () => {
    const a = await startApi()
    const ok = await post(a, 'first@example.com')
    assert.equal(ok.status, 201, await ok.text())

    // The send inside the create's transaction waits for this lock, after the INSERT ran.
    await db.query('BEGIN')
    await db.query(`LOCK TABLE "${schema}".jobs IN SHARE MODE`)
    const pending = post(a, 'ghost@example.com').catch(() => null)
    // Its backend: waiting for the jobs table (parsing the send takes the lock), the user row in.
    let held: number | undefined
    await until(
      async () => {
        const { rows } = await db.query<{ pid: number }>(
          `SELECT w.pid FROM pg_locks w
            WHERE NOT w.granted AND w.relation = '"${schema}".jobs'::regclass
              AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = w.pid AND l.granted
                            AND l.mode = 'RowExclusiveLock' AND l.relation = '"${usersSchema}".users'::regclass)`,
        )
        held = rows[0]?.pid
        return held !== undefined
      },
      15_000,
      'the create waiting on the jobs table with its user row inserted',
    ).catch(async (err: unknown) => {
      await db.query('ROLLBACK')
      throw err
    })
    await kill(a)
    await pending
    await db.query('ROLLBACK')
    // The server notices the dead client once the lock is granted, and rolls back.
    await until(
      async () => (await count('pg_stat_activity WHERE pid = $1', [held])) === 0,
      15_000,
      'the killed API backend gone',
    )
    assert.equal(await count(`"${usersSchema}".users WHERE email = 'ghost@example.com'`), 0, 'no user row')
    assert.equal(await count(`"${schema}".jobs WHERE strpos(body, 'ghost@example.com') > 0`), 0, 'no job')
    assert.equal(await count(`"${schema}".jobs WHERE strpos(body, 'first@example.com') > 0`), 1)
  })

  it('killed at random under load: every user has its one job, every job its user', async () => {
    const rng = new Prng(12)
    const answered: string[] = []
    let n = 0
    for (let round = 0; round < 3; round++) {
      const a = await startApi()
      let stop = false
      const loops = Array.from({ length: 6 }, async () => {
        while (!stop) {
          const email = `u${round}-${n++}@example.com`
          const res = await post(a, email).catch(() => null)
          if (res?.status === 201) answered.push(email)
          else if (res) assert.fail(`create answered ${res.status}: ${await res.text()}`)
        }
      })
      await new Promise((r) => setTimeout(r, rng.int(300, 1000)))
      await kill(a)
      stop = true
      await Promise.all(loops)
    }
    assert.ok(answered.length > 0, 'some creates were answered before the kills')
    const users = `"${usersSchema}".users`
    const jobs = `"${schema}".jobs`
    // Wait out backends of the killed processes that may still be finishing a statement.
    await until(
      async () => (await count(`pg_stat_activity WHERE state = 'active' AND query LIKE '%${schema}%'`)) <= 1,
      15_000,
      'the killed backends gone',
    )
    // One statement, one snapshot.
    const {
      rows: [seen],
    } = await db.query<{ users: number; jobs: number; unmatched: number }>(
      `SELECT (SELECT count(*)::int FROM ${users}) AS users, (SELECT count(*)::int FROM ${jobs}) AS jobs,
              (SELECT count(*)::int FROM ${users} u
                WHERE (SELECT count(*) FROM ${jobs} j WHERE strpos(j.body, u.email) > 0) <> 1) AS unmatched`,
    )
    assert.ok(seen!.users >= answered.length + 1)
    assert.equal(seen!.jobs, seen!.users, 'one job per user')
    assert.equal(seen!.unmatched, 0, 'every user has exactly its own job')
    const { rows } = await db.query<{ email: string }>(`SELECT email FROM ${users} WHERE email = ANY($1)`, [
      answered,
    ])
    assert.equal(rows.length, answered.length, 'every create answered 201 was committed')
  })
})
