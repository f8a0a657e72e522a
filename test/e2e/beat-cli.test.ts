/**
 * `celeriac beat list|pause|resume|add|remove` against a running beat embedded in a worker
 * (`worker -B`): entries change at run time without a restart, and the list shows next fires.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ROOT, cli, run, tempDir, until } from './helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/beat-tasks.ts')

function runs(journal: string, prefix: string): string[] {
  if (!existsSync(journal)) return []
  return readFileSync(journal, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(prefix))
}

describe('celeriac beat commands', () => {
  it('add, list, pause, resume and remove entries of a running worker -B, without a restart', async () => {
    const dir = tempDir('celeriac-beat-cli-')
    const journal = join(dir, 'journal')
    const env = { CELERIAC_BROKER: `sqlite://${join(dir, 'b.db')}`, JOURNAL: journal }
    const beat = (...args: string[]) => cli(['-A', FIXTURE, 'beat', ...args], env)
    const worker = run(['-A', FIXTURE, 'worker', '--no-banner', '-B'], env)
    try {
      await worker.waitFor(/beat is the leader/, 30_000)
      await until(() => runs(journal, 'beat:every-second:').length >= 2, 20_000, 'code entry runs')

      const added = await beat('add', 'extra', '--task', 'tick', '--every', '2s', '--args', '["x"]')
      assert.equal(added.code, 0, added.out)
      assert.match(added.out, /^added extra$/m)
      await until(() => runs(journal, 'beat:extra:').length >= 1, 20_000, 'the added entry runs')

      const list = await beat('list')
      assert.equal(list.code, 0, list.out)
      assert.match(list.out, /every-second\s+tick\s+cron \* \* \* \* \* \* UTC\s+\d{4}-\d\d-\d\dT[\d:.]+Z/)
      assert.match(list.out, /extra\s+tick\s+every 2s\s+\S+Z\s+\S+Z\s+active\s+api/)
      const json = JSON.parse((await beat('list', '--json')).out) as { name: string; next: string }[]
      assert.deepEqual(
        json.map((e) => e.name),
        ['every-second', 'extra'],
      )
      assert.ok(
        json.every((e) => Date.parse(e.next) > Date.now() - 5000),
        'next fires are shown',
      )

      assert.match((await beat('pause', 'every-second')).out, /paused every-second/)
      await new Promise((r) => setTimeout(r, 1500)) // a round or two to see the pause
      const before = runs(journal, 'beat:every-second:').length
      await new Promise((r) => setTimeout(r, 2500))
      assert.ok(runs(journal, 'beat:every-second:').length <= before + 1, 'paused: no more fires')
      assert.match((await beat('list')).out, /every-second.*paused/)
      await beat('resume', 'every-second')
      await until(() => runs(journal, 'beat:every-second:').length >= before + 3, 20_000, 'resumed')

      const refused = await beat('remove', 'every-second')
      assert.equal(refused.code, 1)
      assert.match(refused.out, /declared in code/)
      const bad = await beat('add', 'oops', '--task', 'tick', '--cron', '0 30 2 * * *', '--tz', 'Mars/Base')
      assert.equal(bad.code, 1)
      assert.match(bad.out, /beat entry "oops": cron "0 30 2 \* \* \*" in "Mars\/Base" is not valid/)
      assert.match((await beat('remove', 'extra')).out, /removed extra/)
      await new Promise((r) => setTimeout(r, 1500))
      const extra = runs(journal, 'beat:extra:').length
      await new Promise((r) => setTimeout(r, 3000))
      assert.equal(runs(journal, 'beat:extra:').length, extra, 'removed: no more fires')
      assert.doesNotMatch((await beat('list')).out, /extra/)
    } finally {
      worker.kill('SIGTERM')
      assert.equal(await worker.exited(), 0)
    }
  })
})
