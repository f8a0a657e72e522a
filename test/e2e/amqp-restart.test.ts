/**
 * RabbitMQ restarted under load, on a private node (the shared server is not touched): a producer
 * publishes with confirms at ~1,000 jobs/s and two worker processes consume while the whole node
 * is stopped and started again on its data folder. Every publish that was confirmed completes
 * (none lost); the same two worker processes resume by themselves, each logging the outage once
 * and the recovery once; a delayed job sent before the restart runs once after it.
 *
 * Duplicates are allowed for jobs a worker held when the node went (RabbitMQ requeues what was
 * unacknowledged): at least once.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BrokerError, createApp, type App, type AsyncResult } from 'celeriac'
import { rabbitBinaries, RabbitNode } from '../support/rabbitmq-server.js'
import { FIXTURE, journal, run, tempDir, until, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const BATCH = 50
/** A batch every PACE_MS: about 1,000 jobs/s. */
const PACE_MS = 50
const TASK_MS = 5
const DELAY_MS = 20_000
const found = rabbitBinaries()
const skip = 'missing' in found ? found.missing : false
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('RabbitMQ node restarted while jobs flow (private node)', { skip }, () => {
  let node: RabbitNode | null = null
  let app: App | null = null
  const procs: Proc[] = []
  const { url: resultUrl, prefix } = withPrefix(REDIS_BASE, 'amqp-restart')
  before(async () => {
    node = await RabbitNode.start()
  })
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited()))
    await app?.close()
    await node?.stop()
    await deletePrefix(REDIS_BASE, prefix)
  })

  it('no confirmed job is lost; the same workers resume; a delayed job runs once', async (t) => {
    const brokerUrl = `${node!.url}?prefix=restart`
    app = createApp({ broker: brokerUrl, resultBackend: resultUrl })
    const sleepy = app.task('sleepy', (_ctx, _ms: number) => 0)
    const jfile = join(tempDir(), 'journal.log')
    for (let i = 0; i < 2; i++)
      procs.push(
        run(
          [
            '-A',
            FIXTURE,
            '-b',
            brokerUrl,
            '--result-backend',
            resultUrl,
            'worker',
            '--no-banner',
            '-c',
            '10',
          ],
          { JOURNAL: jfile },
        ),
      )
    await Promise.all(procs.map((p) => p.waitFor(/ready/)))
    const pids = procs.map((p) => p.child.pid!)

    const delayed = await sleepy.applyAsync([TASK_MS], { countdown: DELAY_MS })
    const confirmed: AsyncResult<number>[] = []
    let failed = 0
    let sending = true
    const produce = (async () => {
      while (sending) {
        try {
          confirmed.push(
            ...(await sleepy.sendMany(Array.from({ length: BATCH }, () => ({ args: [TASK_MS] })))),
          )
        } catch (err) {
          // Not confirmed: it may or may not be stored; a caller would send again.
          assert.ok(err instanceof BrokerError, `publish rejects with BrokerError: ${String(err)}`)
          failed++
        }
        await sleep(PACE_MS)
      }
    })()

    await until(() => confirmed.length >= 1000, 30_000, '1,000 confirmed jobs')
    const downAt = Date.now()
    await node!.halt()
    await sleep(1000)
    await node!.boot()
    t.diagnostic(`node away ${Date.now() - downAt} ms; ${confirmed.length} jobs confirmed so far`)
    const before = confirmed.length
    await until(
      () => confirmed.length >= before + 1000,
      60_000,
      '1,000 more confirmed jobs after the restart',
    )
    sending = false
    await produce

    for (const r of confirmed) assert.equal(await r.get({ timeout: 60_000 }), TASK_MS)
    assert.equal(await delayed.get({ timeout: 60_000 }), TASK_MS)
    const lines = journal(jfile)
    assert.equal(
      lines.filter((l) => l.event === 'start' && l.id === delayed.id).length,
      1,
      'the delayed job ran once',
    )
    const starts = new Map<string, number>()
    for (const l of lines) if (l.event === 'start') starts.set(l.id, (starts.get(l.id) ?? 0) + 1)
    const twice = [...starts.values()].filter((n) => n > 1).length
    t.diagnostic(`${confirmed.length} confirmed, ${failed} batches refused, ${twice} jobs ran twice`)

    // The same processes did the work after the restart, both of them.
    const after = new Set(confirmed.slice(before).map((r) => r.id))
    const workedAfter = new Set(lines.filter((l) => after.has(l.id)).map((l) => l.pid))
    assert.deepEqual(
      [...workedAfter].sort(),
      [...pids].sort(),
      'both original workers ran jobs after the restart',
    )
    for (const p of procs) {
      const logs = p
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string })
      const count = (re: RegExp) => logs.filter((l) => re.test(l.msg)).length
      assert.equal(count(/^reserving from the broker failed/), 1, `the outage is logged once:\n${p.output()}`)
      assert.equal(count(/^reserving from the broker works again/), 1, 'the recovery is logged once')
      assert.ok(count(/^settling finished tasks failed/) <= 1, p.output())
      p.kill('SIGTERM')
      assert.equal(await p.exited(), 0)
    }
  })
})
