/** One worker running tasks: results through the codec, retries, dead letters and replay, limits, timing. */
import assert from 'node:assert/strict'
import { check, sleep, until, type WorkerTarget } from './harness.js'

export function runningTests(target: WorkerTarget): void {
  check(target, 'runs tasks and reads typed results back through the codec', async (h) => {
    const app = h.app()
    const add = app.task('add', (_ctx, a: number, b: number) => a + b)
    const echo = app.task(
      'echo',
      (_ctx, v: { d: Date; n: bigint; m: Map<string, number>; s: Set<string>; b: Buffer }) => v,
    )
    await h.worker(app)
    const v = {
      d: new Date('2020-01-02T03:04:05Z'),
      n: 12345678901234567890n,
      m: new Map([['a', 1]]),
      s: new Set(['x']),
      b: Buffer.from('hi'),
    }
    const [sum, rich] = await Promise.all([add.delay(2, 3), echo.delay(v)])
    assert.equal(await sum.get({ timeout: 5000 }), 5)
    assert.deepEqual(await rich.get({ timeout: 5000 }), v)
    assert.equal(await sum.state(), 'SUCCESS')
  })

  check(
    target,
    'retries with backoff until success; after max retries, FAILURE and the job dead-lettered',
    async (h) => {
      const app = h.app()
      const tries: number[] = []
      const flaky = app.task(
        'flaky',
        (ctx) => {
          tries.push(Date.now())
          if (ctx.retries < 2) throw new Error(`try ${ctx.retries}`)
          return ctx.retries
        },
        { retries: { max: 3, delay: 100, jitter: false } },
      )
      const never = app.task(
        'never',
        () => {
          throw new TypeError('still broken')
        },
        { retries: { max: 2, delay: 10, jitter: false } },
      )
      await h.worker(app)
      const [ok, bad] = await Promise.all([flaky.delay(), never.delay()])
      assert.equal(await ok.get({ timeout: 5000 }), 2)
      assert.equal(tries.length, 3)
      const gap = tries[1]! - tries[0]!
      assert.ok(gap >= 90, `backoff before the first retry (${gap} ms)`)
      // An idle worker is woken for a retry when its backoff ends, not at its next poll. A push
      // engine's delay passes through its broker's own timers (RabbitMQ's TTL queues), which a
      // loaded server runs late by a few hundred ms more.
      const slack = (await app.broker()).capabilities.consumer === 'push' ? 1500 : 500
      assert.ok(gap < slack, `the retry ran soon after its backoff (${gap} ms)`)
      await assert.rejects(bad.get({ timeout: 5000 }), { name: 'TypeError', message: 'still broken' })
      assert.equal(await bad.state(), 'FAILURE')
      assert.equal((await bad.record())!.retries, 2)
      const broker = await app.broker()
      await until('the job in the dead-letter store', async () =>
        (await broker.listDead()).some((d) => d.id === bad.id),
      )
      const [dead] = (await broker.listDead()).filter((d) => d.id === bad.id)
      assert.match(dead!.reason, /failed after 2 retries: TypeError: still broken/)
      assert.equal(await broker.stats(['default']).then(([s]) => s!.waiting + s!.active + s!.delayed), 0)
    },
  )

  check(target, 'a task gets every retry it declares, even past maxDeliveries', async (h) => {
    const app = h.app()
    let attempts = 0
    const t = app.task(
      'always-fails',
      () => {
        attempts++
        throw new Error(`attempt ${attempts}`)
      },
      { retries: { max: 5, delay: 0, jitter: false } },
    )
    await h.worker(app, { maxDeliveries: 2 })
    await assert.rejects((await t.delay()).get({ timeout: 10_000 }), /attempt 6/)
    assert.equal(attempts, 6)
  })

  check(
    target,
    'dead-letters an unknown task and a malformed body; replay runs the task once another app knows it',
    async (h) => {
      const first = h.app()
      const ok = first.task('ok', () => 'fine')
      const broker = await first.broker()
      await broker.publish([{ id: 'bad-json', queue: 'default', priority: 0, body: '{not json' }])
      const ghost = await first.sendTask('ghost.task', [4])
      const w1 = await h.worker(first)
      assert.equal(await (await ok.delay()).get({ timeout: 5000 }), 'fine', 'the worker keeps working')
      await assert.rejects(ghost.get({ timeout: 5000 }), /unknown task "ghost.task"/)
      await until('both dead-lettered', async () => (await broker.listDead()).length === 2)
      const reasons = new Map((await broker.listDead()).map((d) => [d.id, d.reason]))
      assert.match(reasons.get('bad-json')!, /malformed message/)
      assert.match(reasons.get(ghost.id)!, /unknown task "ghost.task"; registered tasks: ok/)
      await w1.stop()

      const second = h.app()
      let runs = 0
      second.task('ghost.task', (_ctx, n: number) => (runs++, n * 10))
      await h.worker(second)
      assert.equal(await second.replayDead([ghost.id]), 1)
      assert.equal(await second.asyncResult(ghost.id).get({ timeout: 5000 }), 40)
      assert.equal(runs, 1)
      const dead = await (await second.broker()).listDead()
      assert.deepEqual(
        dead.map((d) => d.id),
        ['bad-json'],
        'the malformed body stays dead',
      )
    },
  )

  check(
    target,
    'time limits: the soft one aborts ctx.signal, the hard one fails the task and frees the slot',
    async (h) => {
      const app = h.app()
      const soft = app.task(
        'soft',
        (ctx) =>
          new Promise((resolve) =>
            ctx.signal.addEventListener('abort', () => resolve((ctx.signal.reason as Error).name)),
          ),
        { softTimeLimit: 50 },
      )
      const hang = app.task('hang', () => new Promise(() => {}), { timeLimit: 100 })
      const quick = app.task('quick', () => 'next')
      await h.worker(app, { concurrency: 1, prefetch: 0 })
      assert.equal(await (await soft.delay()).get({ timeout: 5000 }), 'SoftTimeLimitExceededError')
      const r = await hang.delay()
      await assert.rejects(r.get({ timeout: 5000 }), { name: 'TimeLimitExceededError' })
      assert.equal(await (await quick.delay()).get({ timeout: 5000 }), 'next', 'the single slot was freed')
    },
  )

  check(target, 'honours countdown and eta, and runs a delayed job soon after its time', async (h) => {
    const app = h.app()
    const at = app.task('at', () => Date.now())
    await h.worker(app)
    const first = Date.now()
    // The worker is idle (waiting in the broker) once this has run: the delayed jobs published
    // next must wake it when their time comes.
    assert.ok(
      (await (await at.delay()).get({ timeout: 5000 })) - first < 300,
      'a job without a delay runs now',
    )
    await sleep(20)
    const sentAt = Date.now()
    const [byCountdown, byEta] = await Promise.all([
      at.applyAsync([], { countdown: 200 }),
      at.applyAsync([], { eta: new Date(sentAt + 300) }),
    ])
    const ranAt = [await byCountdown.get({ timeout: 5000 }), await byEta.get({ timeout: 5000 })]
    assert.ok(ranAt[0]! - sentAt >= 190, `not before its countdown (${ranAt[0]! - sentAt} ms)`)
    assert.ok(ranAt[1]! >= sentAt + 290, `not before its eta (${ranAt[1]! - sentAt} ms)`)
    // As for retries: a push engine's own timers may run a few hundred ms late when loaded.
    const late = (await app.broker()).capabilities.consumer === 'push' ? 1500 : 600
    assert.ok(
      ranAt[0]! - sentAt < late,
      `the countdown job ran soon after its time (${ranAt[0]! - sentAt} ms)`,
    )
    assert.ok(
      ranAt[1]! - sentAt < late + 100,
      `the eta job ran soon after its time (${ranAt[1]! - sentAt} ms)`,
    )
  })
}
