/**
 * What a task in a pool child reports reaches the worker: `ctx.progress()` from a thread is seen
 * by `result.follow()`, and `ctx.step()` from a thread or a process is recorded by the worker, so
 * a retry replays the finished step instead of running it again (real `celeriac worker` processes
 * on SQLite).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { cli, ROOT, run, tempDir, until, type Proc } from './helpers.js'

const POOL_FIXTURE = resolve(ROOT, 'test/fixtures/pool-tasks.ts')

describe('progress and durable steps from pool children (real processes)', () => {
  const procs: Proc[] = []
  const apps: App[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const a of apps) await a.close()
  })

  function start(kind: string, extra: string[] = []) {
    const dir = tempDir('celeriac-pool-progress-')
    const url = `sqlite://${join(dir, 'q.db')}`
    const jfile = join(dir, 'journal.log')
    const w = run(['-A', POOL_FIXTURE, 'worker', '--no-banner', '--pool', kind, '-c', '1', ...extra], {
      CELERIAC_BROKER: url,
      JOURNAL: jfile,
    })
    procs.push(w)
    const app = createApp({ broker: url })
    apps.push(app)
    return { w, app, dir, jfile, url }
  }

  async function stop(w: Proc) {
    w.kill('SIGTERM')
    assert.equal(await w.exited(), 0, w.output())
  }

  it('threads: ctx.progress() in the thread is seen by result.follow(), celeriac result and celeriac events', async () => {
    const { w, app, dir, url } = start('threads', ['-E'])
    await w.waitFor(/ready/)
    const go = join(dir, 'go')
    const r = await app.sendTask<string>('progress.reports', [go])
    const seen: unknown[] = []
    for await (const u of r.follow({ pollInterval: 100 })) {
      if (u.progress !== null && !seen.length) {
        seen.push(u.progress)
        // While it runs, `celeriac result` shows the value as progress, not as a result.
        const shown = await cli(['result', r.id], { CELERIAC_BROKER: url })
        const body = JSON.parse(shown.out.trim()) as Record<string, unknown>
        assert.equal(body.state, 'STARTED', shown.out)
        assert.equal('result' in body, false, shown.out)
        assert.deepEqual(body.progress, u.progress)
        // And `celeriac events` prints the value of the task-progress event.
        await until(
          async () =>
            new RegExp(
              `task-progress\\s+progress\\.reports\\[${r.id}\\]\\s+progress \\{"done":1,"of":2,`,
            ).test((await cli(['events'], { CELERIAC_BROKER: url })).out),
          10_000,
          'the task-progress line',
        )
        writeFileSync(go, '')
      }
      if (u.ready) break
    }
    assert.equal(seen.length >= 1, true, 'progress was seen while it ran')
    const p = seen[0] as { done: number; of: number; where: number }
    assert.deepEqual({ done: p.done, of: p.of }, { done: 1, of: 2 })
    assert.notEqual(p.where, 0, 'reported from a worker thread, not the main one')
    assert.equal(await r.get({ timeout: 20_000 }), 'finished')
    assert.equal(await r.progress(), null, 'no progress once it is ready')
    await stop(w)
  })

  for (const kind of ['threads', 'processes'])
    it(`${kind}: ctx.step() is recorded by the worker; a retry replays the finished step`, async () => {
      const { w, app, jfile } = start(kind)
      await w.waitFor(/ready/)
      const r = await app.sendTask<{ a: number; b: bigint; retries: number }>('steps.resume')
      // The Flaky thrown in step "b" kept its class: the policy (`on: [Flaky]`) retried it once.
      assert.deepEqual(await r.get({ timeout: 20_000 }), { a: 1000, b: 2n, retries: 1 })
      const lines = existsSync(jfile) ? readFileSync(jfile, 'utf8').trim().split('\n') : []
      const events = lines.filter((l) => l.includes(r.id)).map((l) => l.split(' ')[0])
      assert.deepEqual(events, ['step-a', 'step-b', 'step-b'], 'step "a" ran once, replayed on the retry')
      await stop(w)
    })
})
