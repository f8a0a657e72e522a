/** Shutdown, time limits, bad input and bad configuration, through the real CLI. */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { cli, journal, tempDir, until, worker, type Proc } from './helpers.js'

describe('worker lifecycle and bad input', () => {
  const procs: Proc[] = []
  const apps: App[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const a of apps) await a.close()
  })
  function setup() {
    const dir = tempDir()
    const db = join(dir, 'queue.db')
    const app = createApp({ broker: `sqlite://${db}` })
    apps.push(app)
    return { db, jfile: join(dir, 'journal.log'), app }
  }

  it('SIGTERM: running tasks finish, the worker exits 0, queued tasks stay queued', async () => {
    const { db, jfile, app } = setup()
    const w = worker(db, ['-c', '3'], { JOURNAL: jfile })
    procs.push(w)
    await w.waitFor(/ready/)
    const sleepy = app.task('sleepy', (_ctx, _ms: number) => 0)
    const rs = await sleepy.sendMany(Array.from({ length: 9 }, () => [800] as [number]))
    await until(() => journal(jfile).filter((l) => l.event === 'start').length === 3, 10_000, 'three starts')
    w.kill('SIGTERM')
    assert.equal(await w.exited(), 0)
    const lines = journal(jfile)
    assert.equal(lines.filter((l) => l.event === 'start').length, 3, 'nothing new started after SIGTERM')
    assert.equal(lines.filter((l) => l.event === 'done').length, 3, 'the running tasks finished')
    const states = await Promise.all(rs.map((r) => r.state()))
    assert.equal(states.filter((s) => s === 'SUCCESS').length, 3)
    const [st] = await (await app.broker()).stats(['default'])
    assert.equal(st!.waiting, 6, 'the rest are back in the queue, none lost')
    assert.equal(st!.active, 0)
    const w2 = worker(db, ['-c', '6'], { JOURNAL: jfile })
    procs.push(w2)
    await Promise.all(rs.map((r) => r.get({ timeout: 20_000 })))
    assert.equal(journal(jfile).filter((l) => l.event === 'done').length, 9)
    w2.kill('SIGINT')
    assert.equal(await w2.exited(), 0)
  })

  it('a task past its hard time limit fails with a time-limit error and the worker goes on', async () => {
    const { db, app } = setup()
    const w = worker(db, ['-c', '1'])
    procs.push(w)
    const hang = await app.sendTask('hang')
    const add = await app.sendTask<number>('add', [20, 22])
    await assert.rejects(hang.get({ timeout: 10_000 }), {
      name: 'TimeLimitExceededError',
      message: /hard time limit of 300 ms/,
    })
    assert.equal(await hang.state(), 'FAILURE')
    assert.equal(await add.get({ timeout: 10_000 }), 42, 'the only slot was freed')
    w.kill('SIGTERM')
    assert.equal(await w.exited(), 0)
  })

  it('malformed messages and unknown tasks go to the dead-letter store; replay runs them', async () => {
    const { db, app } = setup()
    const broker = await app.broker()
    await broker.publish([{ id: 'garbage-1', queue: 'default', priority: 0, body: '\u0000not json' }])
    await broker.publish([
      {
        id: 'wrong-shape',
        queue: 'default',
        priority: 0,
        body: JSON.stringify({ v: 1, id: 'wrong-shape', task: 'add', args: 'nope' }),
      },
    ])
    const unknown = await app.sendTask('reports.monthly', [2026, 11])
    const w = worker(db, ['-c', '2'])
    procs.push(w)
    const ok = await app.sendTask<number>('add', [1, 1])
    assert.equal(await ok.get({ timeout: 10_000 }), 2, 'the worker keeps going')
    await assert.rejects(unknown.get({ timeout: 10_000 }), { name: 'UnknownTaskError' })
    const env = { CELERIAC_BROKER: `sqlite://${db}` }
    const list = await cli(['dead', 'list'], env)
    assert.equal(list.code, 0)
    assert.match(list.out, /garbage-1 .*malformed message: body is not valid JSON/)
    assert.match(list.out, /wrong-shape .*malformed message: "args" must be an array/)
    assert.match(
      list.out,
      /reports\.monthly .*unknown task "reports\.monthly"; registered tasks: add, crash, hang, needs\.file, noop, rich, sleepy, throws\.object/,
    )
    // Replaying an unknown task without new code dead-letters it again; the others stay visible.
    const replay = await cli(['dead', 'replay', unknown.id], env)
    assert.match(replay.out, /replayed 1 jobs/)
    await until(async () => (await broker.listDead()).some((d) => d.id === unknown.id), 10_000, 'dead again')
    assert.equal((await broker.listDead()).length, 3)
    w.kill('SIGTERM')
    assert.equal(await w.exited(), 0)
  })

  it('a failed task is dead-lettered with its error; after the fix, replay runs it to SUCCESS', async () => {
    const { db, app } = setup()
    const flag = join(tempDir(), 'flag')
    const w = worker(db, ['-c', '2'])
    procs.push(w)
    const r = await app.sendTask<string>('needs.file', [flag])
    await assert.rejects(r.get({ timeout: 10_000 }), { message: `missing ${flag}` })
    const env = { CELERIAC_BROKER: `sqlite://${db}` }
    assert.match(
      (await cli(['dead', 'list'], env)).out,
      new RegExp(`${r.id} .*needs\\.file .*failed: Error: missing`),
    )
    writeFileSync(flag, 'now it exists')
    assert.match((await cli(['dead', 'replay', '--all'], env)).out, /replayed 1 jobs/)
    assert.equal(await r.get({ timeout: 10_000 }), 'found')
    assert.match((await cli(['result', r.id], env)).out, /"state":"SUCCESS".*"result":"found"/)
    assert.match((await cli(['dead', 'list'], env)).out, /the dead-letter store is empty/)
    w.kill('SIGTERM')
    assert.equal(await w.exited(), 0)
  })

  it('a message that kills its worker each time is dead-lettered after --max-deliveries', async () => {
    const { db, app } = setup()
    const poison = await app.sendTask('crash')
    const ok = await app.sendTask<number>('add', [2, 2])
    const settled = poison.get({ timeout: 30_000 }).then(
      () => 'ran',
      (err: Error) => err,
    )
    let deaths = 0
    for (;;) {
      // --prefetch 0: a job prefetched by a dying worker would count a delivery too.
      const w = worker(db, ['-c', '1', '--prefetch', '0', '--lease', '500ms', '--max-deliveries', '2'])
      procs.push(w)
      const first = await Promise.race([w.exited().then(() => 'died' as const), settled])
      if (first === 'died') {
        deaths++
        assert.ok(deaths <= 2, 'the poison message stops killing workers')
        continue
      }
      assert.match(String(first), /delivered 3 times without finishing/)
      assert.equal(await ok.get({ timeout: 10_000 }), 4, 'the worker that dead-lettered it goes on')
      w.kill('SIGTERM')
      assert.equal(await w.exited(), 0)
      break
    }
    assert.equal(deaths, 2, 'two deliveries killed a worker; the third was dead-lettered')
    const dead = await (await app.broker()).listDead()
    assert.deepEqual(
      dead.map((d) => d.id),
      [poison.id],
    )
  })

  it('a bad broker URL is one clear line naming the URL and the supported schemes', async () => {
    for (const args of [
      ['-b', 'kafka://localhost:9092', 'stats'],
      ['-A', 'test/fixtures/tasks.ts', 'worker'],
    ]) {
      const r = await cli(args, { CELERIAC_BROKER: 'kafka://localhost:9092' })
      assert.equal(r.code, 1)
      const lines = r.out.trim().split('\n')
      assert.equal(lines.length, 1, r.out)
      assert.match(
        lines[0]!,
        /^celeriac: error: cannot use broker URL "kafka:\/\/localhost:9092": unknown scheme "kafka"\. Supported schemes: .*sqlite:\/\//,
      )
    }
    const noScheme = await cli(['-b', 'localhost:6379', 'stats'])
    assert.match(noScheme.out, /cannot use broker URL "localhost:6379": it has no scheme/)
    const badArgs = await cli(['-b', 'memory://', 'call', 'add', '--args', '1,2'])
    assert.equal(badArgs.code, 1)
    assert.match(badArgs.out, /--args is not valid JSON/)
  })
})
