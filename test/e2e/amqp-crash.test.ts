/**
 * A worker process on RabbitMQ SIGKILLed in the middle of a task: RabbitMQ requeues what the dead
 * connection held unacked, and the other worker runs it. Every task must end with SUCCESS, none
 * lost, and a task may run twice only if the killed worker had started it (at-least-once).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp } from 'celeriac'
import { amqpUrls } from '../conformance/amqp-env.js'
import { FIXTURE, journal, run, tempDir, until, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const TASKS = 12
// Long enough that the victim is surely mid-task when the kill lands, short enough for ~10 s.
const SLEEP_MS = 1500
// Two slots and one prefetched delivery each: both workers get work, the victim holds some unacked.
const WORKER_ARGS = ['-c', '2', '--prefetch', '1']

describe('worker processes on RabbitMQ, one killed mid-task', () => {
  const amqp = amqpUrls()
  const brokerUrl = amqp.url()
  const { url: resultUrl, prefix } = withPrefix(REDIS_BASE, 'amqp-crash')
  const app = createApp({ broker: brokerUrl, resultBackend: resultUrl })
  const procs: Proc[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited()))
    await app.close()
    await amqp.cleanup(['default'])
    await deletePrefix(REDIS_BASE, prefix)
  })

  it('the killed task is redelivered to the other worker; every task succeeds', async (t) => {
    const jfile = join(tempDir(), 'journal.log')
    const sleepy = app.task('sleepy', (_ctx, _ms: number) => 0)
    for (let i = 0; i < 2; i++) {
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
            ...WORKER_ARGS,
          ],
          { JOURNAL: jfile },
        ),
      )
    }
    await Promise.all(procs.map((p) => p.waitFor(/ready/)))
    const pids = procs.map((p) => p.child.pid!)

    const rs = await sleepy.sendMany(Array.from({ length: TASKS }, () => [SLEEP_MS] as [number]))
    const ids = rs.map((r) => r.id)

    // Both workers are running tasks: kill the one whose task started first.
    await until(
      () => pids.every((pid) => journal(jfile).some((l) => l.event === 'start' && l.pid === pid)),
      10_000,
      'both workers running tasks',
    )
    const before = journal(jfile)
    const victimPid = before.find((l) => l.event === 'start')!.pid
    const victim = procs[pids.indexOf(victimPid)]!
    const survivorPid = pids.find((p) => p !== victimPid)!
    victim.kill('SIGKILL')
    await victim.exited()
    const cut = journal(jfile).filter((l) => l.pid === victimPid)
    const interrupted = cut
      .filter((l) => l.event === 'start' && !cut.some((d) => d.event === 'done' && d.id === l.id))
      .map((l) => l.id)
    assert.ok(interrupted.length >= 1, 'the victim was killed in the middle of a task')

    const doneIds = () => new Set(journal(jfile).flatMap((l) => (l.event === 'done' ? [l.id] : [])))
    await until(() => ids.every((id) => doneIds().has(id)), 20_000, `${TASKS} tasks done`)

    const lines = journal(jfile)
    for (const id of interrupted) {
      assert.ok(
        lines.some((l) => l.event === 'done' && l.id === id && l.pid === survivorPid),
        `task ${id}, interrupted by the kill, was completed by the other worker`,
      )
    }
    for (const id of ids) {
      const runs = lines.filter((l) => l.id === id)
      const done = runs.filter((l) => l.event === 'done')
      assert.ok(done.length >= 1, `task ${id} ran to the end`)
      assert.ok(
        done.filter((l) => l.pid === survivorPid).length <= 1,
        `task ${id} finished once in the survivor`,
      )
      const starts = runs.filter((l) => l.event === 'start')
      if (starts.length > 1)
        assert.ok(
          starts.some((l) => l.pid === victimPid),
          `task ${id} ran more than once but the killed worker had not started it: ${JSON.stringify(runs)}`,
        )
    }

    const store = (await app.resultStore())!
    await until(
      async () => (await store.get(ids)).every((r) => r?.state === 'SUCCESS'),
      5_000, // the journal's "done" comes just before the result is written
      'every result SUCCESS',
    )

    // A later delivery has a higher fence: the redelivered run's record outranks the first
    // delivery of a task the survivor had started before the kill.
    const firstRuns = before
      .filter((l) => l.event === 'start' && l.pid === survivorPid)
      .map((l) => l.id)
      .filter((id) => lines.filter((l) => l.id === id && l.event === 'start').length === 1)
    const records = new Map((await store.get([...interrupted, ...firstRuns])).map((r) => [r!.id, r!]))
    const maxFirst = Math.max(...firstRuns.map((id) => records.get(id)!.fence!))
    for (const id of interrupted)
      assert.ok(records.get(id)!.fence! > maxFirst, `task ${id} was redelivered with a higher fence`)

    const broker = await app.broker()
    const [st] = await broker.stats(['default'])
    assert.deepEqual([st!.waiting, st!.delayed, st!.dead], [0, 0, 0], 'nothing left in the queue')

    const survivor = procs[pids.indexOf(survivorPid)]!
    survivor.kill('SIGTERM')
    assert.equal(await survivor.exited(), 0)
    t.diagnostic(`interrupted ${interrupted.length} task(s); all ${TASKS} completed`)
  })
})
