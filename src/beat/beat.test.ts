/** Beat on the memory engine with a fake schedule clock: leadership, missed ticks, restarts, recovery, run-time entries. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { createApp, type App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { createBeat, type Beat, type BeatOptions } from './beat.js'
import { checkEntry, cron, every, once, type EntrySpec } from './entries.js'
import { fireId, firedValue, recordKey } from './records.js'

const T0 = Date.parse('2025-06-01T00:00:00Z')
const MIN = 60_000

function setup(options: Omit<BeatOptions, 'now'> = {}) {
  const app = createApp({ broker: `memory://${randomUUID()}` })
  const task = app.task('t', (_ctx, n: number) => n)
  const clock = { t: T0 }
  const make = (o: Omit<BeatOptions, 'now'> = options): Beat => createBeat(app, { now: () => clock.t, ...o })
  return { app, task, clock, make }
}

const ticks = (fires: { tick: number }[]) => fires.map((f) => new Date(f.tick).toISOString().slice(11, 19))

describe('beat', () => {
  it('one leader fires; a second beat fires nothing until the first lets go, then every tick in between', async () => {
    const { app, task, clock, make } = setup()
    const entries = [every('m', '1m', task, [1])]
    const a = make({ entries })
    const b = make({ entries })
    assert.deepEqual(await a.runOnce(), [])
    assert.ok(a.isLeader)
    clock.t += MIN
    assert.equal((await a.runOnce()).length, 1)
    assert.deepEqual(await b.runOnce(), [])
    assert.ok(!b.isLeader)
    await a.stop() // lets the lock go, as on SIGTERM
    clock.t = T0 + 2 * MIN + 15_000
    const fires = await b.runOnce()
    assert.deepEqual(ticks(fires), ['00:02:00'])
    clock.t = T0 + 3 * MIN + 5000
    assert.deepEqual(ticks(await b.runOnce()), ['00:03:00'])
    await b.stop()
    await app.close()
  })

  it('a beat whose lock lapsed and was taken cannot fire: its writes are fenced off', async () => {
    const { app, task, clock, make } = setup({ lockTtl: '1s', interval: '300ms' })
    const entries = [every('m', '1m', task, [1])]
    const a = make({ entries, lockTtl: '1s', interval: '300ms' })
    const b = make({ entries, lockTtl: '1s', interval: '300ms' })
    await a.runOnce()
    await new Promise((r) => setTimeout(r, 1100)) // a is "paused" past its lock
    clock.t += MIN
    assert.equal((await b.runOnce()).length, 1, 'b took over and fired')
    assert.deepEqual(await a.runOnce(), [], 'a fires nothing')
    assert.ok(!a.isLeader)
    await b.stop()
    await app.close()
  })

  it('a restarted beat never fires a tick already fired', async () => {
    const { app, task, clock, make } = setup()
    const entries = [cron('c', '0 * * * * *', task, [1])]
    const a = make({ entries })
    await a.runOnce()
    clock.t += MIN
    assert.equal((await a.runOnce()).length, 1)
    await a.stop()
    const b = make({ entries }) // a new process, same code
    assert.deepEqual(await b.runOnce(), [])
    clock.t += MIN
    assert.deepEqual(ticks(await b.runOnce()), ['00:02:00'])
    await b.stop()
    await app.close()
  })

  for (const [missed, expected] of [
    [undefined, ['00:59:00']],
    ['skip', []],
    ['once', ['00:59:00']],
    [{ all: 3 }, ['00:57:00', '00:58:00', '00:59:00']],
  ] as const)
    it(`after downtime, missed ticks follow the policy ${JSON.stringify(missed ?? 'once (default)')}`, async () => {
      const { app, task, clock, make } = setup()
      const entries = [every('m', '1m', task, [1], missed ? { missed } : {})]
      const a = make({ entries })
      await a.runOnce()
      await a.stop()
      clock.t += 59 * MIN + 30_000 // beat was away for an hour
      const b = make({ entries })
      assert.deepEqual(ticks(await b.runOnce()), expected)
      clock.t += 30_000
      assert.deepEqual(ticks(await b.runOnce()), ['01:00:00'], 'then on time again')
      await b.stop()
      await app.close()
    })

  it('sends again the fires a dead leader decided, unless the result store shows they ran', async () => {
    const { app, task, clock, make } = setup()
    const a = make({ entries: [every('m', '1m', task, [1])] })
    await a.runOnce()
    const coord = (await app.coordination())!
    const [ran, lost] = [fireId('m', T0 + MIN), fireId('m', T0 + 2 * MIN)]
    // The dead leader's state: two fires written as pending, one of which a worker already ran.
    const now = Date.now()
    await (await app.resultStore())!.set([
      {
        ...{ id: ran, state: 'SUCCESS', task: 't', result: '1', error: null, retries: 0, worker: 'w' },
        ...{ startedAt: now, doneAt: now, updatedAt: now, expiresAt: null, fence: 1 },
      },
    ])
    await coord.put('beat', [
      {
        key: recordKey.fired('m'),
        value: firedValue({
          last: T0 + 2 * MIN,
          pending: [
            { id: ran, tick: T0 + MIN },
            { id: lost, tick: T0 + 2 * MIN },
          ],
        }),
      },
    ])
    clock.t += 2 * MIN + 1000
    const fires = await a.runOnce()
    assert.deepEqual(
      fires.map((f) => [f.id, f.recovered]),
      [[lost, true]],
    )
    assert.deepEqual(await a.runOnce(), [], 'and not again')
    await a.stop()
    await app.close()
  })

  it('entries are added, changed, paused, resumed and removed at run time, without a restart', async () => {
    const { app, task, clock, make } = setup()
    const beat = make({ entries: [cron('code', '0 0 * * * *', task, [1])] })
    await beat.runOnce()
    const admin = make({ entries: [] }) // another process: the CLI
    assert.equal(await admin.add(checkEntry({ ...spec('extra'), args: [2] })), 'added')
    assert.equal(await admin.add(checkEntry({ ...spec('extra'), args: [2] })), 'unchanged')
    clock.t += MIN
    assert.deepEqual(
      (await beat.runOnce()).map((f) => f.entry),
      ['extra'],
    )
    const listed = await admin.list()
    assert.deepEqual(
      listed.map((e) => [e.name, e.source, e.paused, e.next?.toISOString()]),
      [
        ['code', 'code', false, '2025-06-01T01:00:00.000Z'],
        ['extra', 'api', false, '2025-06-01T00:02:00.000Z'],
      ],
    )
    await admin.pause('extra')
    clock.t += 3 * MIN
    assert.deepEqual(await beat.runOnce(), [], 'paused: nothing')
    assert.equal((await admin.list()).find((e) => e.name === 'extra')?.next, null)
    await admin.resume('extra')
    assert.deepEqual(await beat.runOnce(), [], 'ticks while paused are dropped')
    clock.t += MIN
    assert.deepEqual(ticks(await beat.runOnce()), ['00:05:00'])
    assert.equal(
      await admin.add({ ...spec('extra'), schedule: { kind: 'every', everyMs: 2 * MIN } }),
      'changed',
    )
    clock.t += MIN
    assert.deepEqual(ticks(await beat.runOnce()), ['00:06:00'])
    await assert.rejects(admin.remove('code'), /declared in code/)
    await assert.rejects(admin.add(spec('code')), /declared in code/)
    await assert.rejects(admin.pause('nope'), /no beat entry named "nope"/)
    assert.equal(await admin.remove('extra'), true)
    clock.t += 10 * MIN
    assert.deepEqual(await beat.runOnce(), [])
    await beat.stop()
    await app.close()
  })

  it('forgets code entries no longer declared, and fires a one-off once', async () => {
    const { app, task, clock, make } = setup()
    const a = make({ entries: [every('old', '1m', task, [1]), once('launch', T0 + 30_000, task, [3])] })
    await a.runOnce()
    clock.t += 40_000
    assert.deepEqual(
      (await a.runOnce()).map((f) => f.entry),
      ['launch'],
    )
    await a.stop()
    const b = make({ entries: [once('launch', T0 + 30_000, task, [3])] })
    clock.t += 5 * MIN
    assert.deepEqual(await b.runOnce(), [], '"old" is gone, "launch" already fired')
    assert.deepEqual(
      (await b.list()).map((e) => [e.name, e.next]),
      [['launch', null]],
    )
    await b.stop()
    await app.close()
  })

  it('checks entries: arguments against the task, patterns, zones, names, intervals, policies', () => {
    const app: App = createApp({ broker: `memory://${randomUUID()}` })
    const add = app.task('add', (_ctx, a: number, b: number) => a + b)
    cron('ok', '*/5 * * * * *', add, [1, 2])
    // @ts-expect-error a string where the task takes a number
    assert.throws(() => checkEntry(cron('bad', 'x', add, ['1', 2])), ConfigError)
    // @ts-expect-error too few arguments
    every('short', '1m', add, [1])
    assert.throws(() => cron('c', '61 * * * *', add, [1, 2]), /cron "61 \* \* \* \*" is not valid/)
    assert.throws(
      () => cron('c', '* * * * *', add, [1, 2], { timezone: 'Mars/Base' }),
      /in "Mars\/Base" is not valid/,
    )
    assert.throws(() => every('fast', '10ms', add, [1, 2]), /1s or more/)
    assert.throws(() => every('has space', '1m', add, [1, 2]), /name "has space" is not valid/)
    assert.throws(() => once('o', 'someday', add, [1, 2]), /not a valid time: someday/)
    assert.throws(
      () => every('p', '1m', add, [1, 2], { missed: { all: 0 } }),
      /missed must be 'skip', 'once' or \{ all: n \}/,
    )
    assert.throws(() => createBeat(app, { entries: [spec('d'), spec('d')] }), /declared twice/)
    assert.throws(() => createBeat(app, { interval: '5s', lockTtl: '10s' }), /at most a third of lockTtl/)
  })
})

function spec(name: string): EntrySpec {
  return { name, task: 't', args: [1], schedule: { kind: 'every', everyMs: MIN } }
}
