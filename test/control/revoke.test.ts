/**
 * Revoke and remote control in one process on the memory engine: the worker's checks and
 * commands, quick to run. The same paths across real processes are in test/e2e/control*.test.ts.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { createApp, controlRequest, listWorkers } from '../../src/index.js'
import { Worker } from '../../src/worker/index.js'

const silent = pino({ level: 'silent' })

describe('revoke and remote control (memory engine)', () => {
  it('a revoked task that has not started is never run; a running one is aborted and REVOKED', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const ran: string[] = []
    const slow = app.task(
      'slow',
      async (ctx) => {
        ran.push(ctx.id)
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, 10_000)
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(t)
            reject(ctx.signal.reason as Error)
          })
        })
      },
      { retries: { max: 3, delay: 0 } },
    )
    const queued = await slow.delay()
    await app.revoke([queued.id])
    const w = new Worker(app, { concurrency: 1, logger: silent, heartbeatInterval: 100 })
    await w.start()
    await assert.rejects(queued.get({ timeout: 5000 }), { name: 'TaskRevokedError' })
    assert.equal(await queued.state(), 'REVOKED')
    assert.equal(ran.length, 0, 'never ran')

    const running = await slow.delay()
    while (!ran.includes(running.id)) await new Promise((r) => setTimeout(r, 10))
    await running.revoke()
    await assert.rejects(running.get({ timeout: 5000 }), { name: 'TaskRevokedError' })
    assert.equal(await running.state(), 'REVOKED', 'not retried')
    await w.stop()
    await app.close()
  })

  it('terminate on the async pool frees the slot of a task that ignores its signal', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const stubborn = app.task('stubborn', () => new Promise(() => {}))
    const add = app.task('add', (_c, a: number, b: number) => a + b)
    const w = new Worker(app, { concurrency: 1, prefetch: 0, logger: silent })
    await w.start()
    const s = await stubborn.delay()
    const sum = await add.delay(1, 2)
    while (w.stats.running === 0) await new Promise((r) => setTimeout(r, 10))
    await s.revoke({ terminate: true })
    await assert.rejects(s.get({ timeout: 5000 }), { name: 'TaskRevokedError' })
    assert.equal(await sum.get({ timeout: 5000 }), 3)
    await w.stop({ grace: 0 })
    await app.close()
  })

  it('answers ping, stats, registered, active; pool-grow, add-consumer; lists the registry', async () => {
    const url = `memory://${randomUUID()}`
    const app = createApp({ broker: url })
    app.task('a.task', () => 1)
    const w = new Worker(app, { concurrency: 2, logger: silent, name: 'w1', heartbeatInterval: 100 })
    await w.start()
    const c = (await app.coordination())!
    const [pong] = await controlRequest(c, 'ping', { timeoutMs: 2000, destination: ['w1'] })
    assert.deepEqual(pong, { v: 1, id: pong!.id, worker: 'w1', ok: true, result: 'pong' })
    const [reg] = await controlRequest(c, 'registered', { destination: ['w1'] })
    assert.deepEqual(reg!.ok && reg!.result, ['a.task'])
    const [grown] = await controlRequest(c, 'pool-grow', { destination: ['w1'], args: { n: 3 } })
    assert.deepEqual(grown!.ok && grown!.result, { concurrency: 5 })
    assert.equal(w.concurrency, 5)
    const [added] = await controlRequest(c, 'add-consumer', { destination: ['w1'], args: { queue: 'extra' } })
    assert.deepEqual(added!.ok && added!.result, { queues: ['default', 'extra'] })
    const onExtra = await app.sendTask('a.task', [], { queue: 'extra' })
    assert.equal(await onExtra.get({ timeout: 5000 }), 1)
    const [bad] = await controlRequest(c, 'nope', { destination: ['w1'] })
    assert.equal(bad!.ok, false)
    const [rl] = await controlRequest(c, 'rate-limit', { destination: ['w1'] })
    assert.match(!rl!.ok ? rl!.error : '', /rate-limit takes a task name and a rate/)
    const [set] = await controlRequest(c, 'rate-limit', {
      destination: ['w1'],
      args: { task: 'a.task', rate: '50/s' },
    })
    assert.deepEqual(set!.ok && set!.result, { task: 'a.task', rate: '50/s' })
    const [refused] = await controlRequest(c, 'rate-limit', {
      destination: ['w1'],
      args: { task: 'a.task', rate: 'fast' },
    })
    assert.match(!refused!.ok ? refused!.error : '', /"fast" is not a rate/)
    // The registry shows the change at the next heartbeat.
    await new Promise((r) => setTimeout(r, 300))
    const list = await listWorkers(c)
    assert.equal(list.length, 1)
    assert.equal(list[0]!.online, true)
    assert.equal(list[0]!.concurrency, 5)
    await w.stop()
    const after = await listWorkers(c)
    assert.equal(after[0]!.online, false, 'a clean stop shows offline at once')
    await app.close()
  })
})
