/**
 * Tasks longer than RabbitMQ's `consumer_timeout`, on a private node whose timeout is 3 s (the
 * shared server is not touched). Held for half the timeout, a delivery is handed over to a lease
 * queue (src/brokers/amqp/leases.ts), so RabbitMQ never times a consumer out: each long task runs
 * once, no worker's channel is closed, nothing is redelivered. A worker SIGKILLed during a handed
 * over task stops renewing its lease; the copy comes back once and the other worker runs it.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { rabbitBinaries, RabbitNode } from '../support/rabbitmq-server.js'
import { FIXTURE, journal, run, tempDir, until, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const TIMEOUT_MS = 3000
const LONG_MS = 10_000
const found = rabbitBinaries()
const skip = 'missing' in found ? found.missing : false

/** The node's own log: RabbitMQ writes a warning when it times a consumer out. */
function nodeLog(node: RabbitNode): string {
  const dir = join(node.dir, 'log')
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n')
}

describe('tasks longer than consumer_timeout (private RabbitMQ node, timeout 3 s)', { skip }, () => {
  let node: RabbitNode | null = null
  let app: App | null = null
  const procs: Proc[] = []
  const { url: resultUrl, prefix } = withPrefix(REDIS_BASE, 'amqp-timeout')
  before(async () => {
    node = await RabbitNode.start({ consumerTimeoutMs: TIMEOUT_MS })
  })
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited()))
    await app?.close()
    await node?.stop()
    await deletePrefix(REDIS_BASE, prefix)
  })

  it('each runs once; no channel is closed; a killed worker’s task comes back once', async (t) => {
    const brokerUrl = `${node!.url}?consumer-timeout=${TIMEOUT_MS}&prefix=long`
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
            '--lease',
            '3s',
          ],
          { JOURNAL: jfile },
        ),
      )
    // The worker's lease is the TTL of a handed over copy: renewed every second.
    await Promise.all(procs.map((p) => p.waitFor(/ready/)))

    // Two long tasks (one per worker, or both on one) and short ones behind them.
    const long = await sleepy.sendMany([[LONG_MS], [LONG_MS]])
    const short = await sleepy.sendMany(Array.from({ length: 20 }, () => [50] as [number]))
    for (const r of long) assert.equal(await r.get({ timeout: 60_000 }), LONG_MS)
    for (const r of short) assert.equal(await r.get({ timeout: 60_000 }), 50)

    const lines = journal(jfile)
    for (const r of [...long, ...short]) {
      assert.equal(
        lines.filter((l) => l.event === 'start' && l.id === r.id).length,
        1,
        `${r.id} started once`,
      )
      assert.equal(lines.filter((l) => l.event === 'done' && l.id === r.id).length, 1, `${r.id} ended once`)
    }
    assert.doesNotMatch(nodeLog(node!), /consumer ack timed out/, 'RabbitMQ timed no consumer out')
    for (const p of procs) {
      assert.doesNotMatch(p.output(), /reserving from the broker failed/, 'no consumer channel closed')
      assert.doesNotMatch(p.output(), /stale token|lease lost/, 'no settle was stale')
    }
    const queues = await node!.ctl('list_queues', '-q', 'name', 'messages')
    t.diagnostic(
      queues
        .trim()
        .split('\n')
        .filter((l) => !/delay\.\d+/.test(l))
        .join('; '),
    )
    assert.doesNotMatch(queues, /\.lease\./, 'every lease queue was deleted')
    assert.match(queues, /^long\.default\t0$/m, 'the work queue is empty')

    // A worker SIGKILLed while a handed over task runs: its lease is not renewed, the copy
    // expires into the work queue after the lease (3 s), and the other worker runs it.
    const [victim] = await sleepy.sendMany([[LONG_MS / 2]])
    await until(() => journal(jfile).some((l) => l.event === 'start' && l.id === victim!.id), 20_000, 'start')
    const pid = journal(jfile).find((l) => l.event === 'start' && l.id === victim!.id)!.pid
    await until(
      async () => /\.lease\./.test(await node!.ctl('list_queues', '-q', 'name')),
      10_000,
      'hand-over',
    )
    const killed = procs.find((p) => p.child.pid === pid)!
    killed.kill('SIGKILL')
    await killed.exited()
    assert.equal(await victim!.get({ timeout: 60_000 }), LONG_MS / 2)
    const runs = journal(jfile).filter((l) => l.id === victim!.id)
    assert.deepEqual(
      runs.map((l) => l.event),
      ['start', 'start', 'done'],
      'started by the killed worker, then once by the other',
    )
    assert.notEqual(runs[1]!.pid, pid)
  })
})
