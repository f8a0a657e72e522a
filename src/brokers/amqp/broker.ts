/**
 * The RabbitMQ broker: a push engine (`consumer: 'push'`, no `reserve`) whose leases last as long
 * as the consumer's channel (`leases: 'connection'`). See README.md for the topology, delays,
 * fencing and limits.
 */
import { randomUUID } from 'node:crypto'
import type { ConfirmChannel } from 'amqplib'
import type {
  Broker,
  BrokerCapabilities,
  DeadJob,
  DeadLetterItem,
  LeaseRef,
  ListDeadOptions,
  OutgoingJob,
  PruneDeadOptions,
  PublishOptions,
  QueueStats,
  RetryItem,
  DeferItem,
} from '../../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../../contracts/consumer.js'
import { ConfigError } from '../../core/errors.js'
import { ThroughputCounter } from '../../core/throughput.js'
import type { AmqpConnection } from './connection.js'
import { AmqpConsumption, type ConsumerDeps } from './consumer.js'
import { DeadLetters } from './dead-letters.js'
import { PublishFrames } from './frames.js'
import { LEVELS } from './delays.js'
import { Leases } from './leases.js'
import { confirmations, send, type Outgoing } from './message.js'
import { Sessions } from './sessions.js'
import * as settle from './settle.js'
import type { DeadCopy, SettleDeps } from './settle.js'
import { Topology } from './topology.js'

export class AmqpBroker implements Broker {
  readonly scheme = 'amqp'
  readonly capabilities: BrokerCapabilities = {
    consumer: 'push',
    crossQueueOrder: 'none',
    leases: 'connection',
    blockingReserve: true,
    transactionalPublish: false,
    idempotentPublish: false,
    marksChosenIds: true,
  }
  readonly topology: Topology
  private readonly sessions = new Sessions()
  private readonly throughput = new ThroughputCounter()
  private readonly consumptions = new Set<AmqpConsumption>()
  private readonly dead: DeadLetters
  private readonly leases: Leases
  private readonly deps: SettleDeps & ConsumerDeps
  /** Per confirm channel, celeriac's encoder of plain publishes (null: amqplib's only). */
  private readonly frames = new WeakMap<ConfirmChannel, PublishFrames | null>()

  constructor(private readonly conn: AmqpConnection) {
    this.topology = new Topology(conn)
    this.dead = new DeadLetters(
      conn,
      this.topology,
      () => [...this.topology.known],
      (jobs) => this.send(jobs),
    )
    this.leases = new Leases({ conn, topology: this.topology, publish: (jobs) => this.send(jobs) })
    this.deps = {
      conn,
      topology: this.topology,
      sessions: this.sessions,
      leases: this.leases,
      throughput: this.throughput,
      running: this.consumptions,
      publish: (jobs, dead) => this.send(jobs, dead),
      republish: (jobs) => this.send(jobs),
      paused: (queues) => this.pausedOf(queues),
    }
  }

  /** The name RabbitMQ shows for this broker's connection (see AmqpConnection.name). */
  get connectionName(): string {
    return this.conn.name
  }

  connect(): Promise<void> {
    return this.conn.connect()
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.consumptions].map((c) => c.stop()))
    this.leases.close()
    await this.conn.close()
  }

  /** Publishes copies (and dead-letter copies) on the confirm channel: one confirm wait for the batch. */
  private async send(jobs: readonly Outgoing[], dead: readonly DeadCopy[] = []): Promise<void> {
    const asked = Date.now()
    const queues = [...jobs.map((j) => j.queue), ...dead.map((d) => d.held.queue)]
    await this.topology.queues(queues)
    const delayed = jobs.filter((j) => j.delayMs >= 1).map((j) => j.queue)
    if (delayed.length) await this.topology.delays(delayed)
    const ch = await this.conn.channel('confirm')
    // Delays count from the call: the time spent declaring (36 levels on a queue's first delayed
    // job, hundreds of ms) is taken off, or every first delay would be late by that much.
    const lag = Date.now() - asked
    // One confirm callback for the batch (see confirmations: not amqplib's waitForConfirms).
    const { confirmed, all } = confirmations(jobs.length + dead.length)
    let frames = this.frames.get(ch)
    if (frames === undefined) this.frames.set(ch, (frames = PublishFrames.of(ch)))
    for (const j of jobs) {
      const job = lag > 0 && j.delayMs >= 1 ? { ...j, delayMs: j.delayMs - lag } : j
      send(ch, this.topology, job, confirmed, frames)
    }
    frames?.flush()
    const now = Date.now()
    for (const d of dead) {
      const m = d.held.msg
      ch.sendToQueue(
        this.topology.dead(d.held.queue),
        m.content,
        {
          persistent: true,
          messageId: m.properties.messageId,
          priority: m.properties.priority,
          contentType: 'text/plain',
          headers: {
            ...m.properties.headers,
            'celeriac-queue': d.held.queue,
            'celeriac-reason': d.reason,
            'celeriac-failed-at': now,
            'celeriac-deliveries': d.deliveries,
            'x-death': undefined,
          },
        },
        confirmed,
      )
    }
    try {
      await all
    } catch (cause) {
      throw this.conn.error('publish not confirmed', cause)
    }
  }

  async publish(jobs: readonly OutgoingJob[], options: PublishOptions = {}): Promise<void> {
    if (options.transaction !== undefined)
      throw new ConfigError(
        'the amqp:// broker cannot publish inside a transaction (transactionalPublish is false)',
      )
    if (!jobs.length) return
    const now = Date.now()
    await this.send(
      jobs.map((j) => ({
        id: j.id,
        queue: j.queue,
        body: j.body,
        priority: j.priority,
        delayMs: j.availableAt === undefined ? 0 : j.availableAt - now,
        epoch: 0,
        deliveries: 0,
        ...(j.generatedId === true ? {} : { chosenId: true, copy: randomUUID() }),
      })),
    )
  }

  consume(options: ConsumeOptions): Consumption {
    // Known at once (not when the channel is open), for dead-letter calls that name no queue.
    for (const q of options.queues) this.topology.known.add(q)
    return new AmqpConsumption(this.deps, options)
  }

  /**
   * Connection leases need no extension: true while the delivery's channel lives, or while its
   * lease queue holds its copy (leases.ts; renewed by the broker itself).
   */
  async extend(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => this.sessions.find(r) !== undefined || this.leases.find(r) !== undefined)
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return settle.release(this.deps, refs, this.conn.target.queueType)
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return settle.ack(this.deps, refs)
  }

  retry(items: readonly RetryItem[]): Promise<boolean[]> {
    return settle.retry(this.deps, items)
  }

  defer(items: readonly DeferItem[]): Promise<boolean[]> {
    return settle.defer(this.deps, items, this.conn.target.queueType)
  }

  deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    return settle.deadLetter(this.deps, items)
  }

  private async pausedOf(queues: readonly string[]): Promise<Set<string>> {
    await this.topology.queues(queues)
    const ch = await this.conn.channel('admin')
    const counts = await Promise.all(queues.map((q) => ch.checkQueue(this.topology.paused(q))))
    return new Set(queues.filter((_, i) => counts[i]!.messageCount > 0))
  }

  /** Sets the queue's pause flag (a message in `<queue>.paused`), seen by every consumer within a second. */
  async pause(queue: string): Promise<void> {
    if ((await this.pausedOf([queue])).size === 0) {
      const ch = await this.conn.channel('confirm')
      ch.sendToQueue(this.topology.paused(queue), Buffer.from('paused'), { persistent: true })
      await ch.waitForConfirms()
    }
    await Promise.all([...this.consumptions].map((c) => c.checkPaused()))
  }

  async resume(queue: string): Promise<void> {
    await this.topology.queues([queue])
    await (await this.conn.channel('admin')).purgeQueue(this.topology.paused(queue))
    await Promise.all([...this.consumptions].map((c) => c.checkPaused()))
  }

  async purge(queue: string): Promise<number> {
    await this.topology.delays([queue])
    const ch = await this.conn.channel('admin')
    const names = [
      this.topology.work(queue),
      ...Array.from({ length: LEVELS }, (_, k) => this.topology.level(queue, k)),
    ]
    const purged = await Promise.all(names.map((n) => ch.purgeQueue(n)))
    return purged.reduce((sum, p) => sum + p.messageCount, 0)
  }

  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const list = queues ? [...queues] : [...this.topology.known]
    if (!list.length) return []
    await this.topology.delays(list)
    const ch = await this.conn.channel('admin')
    const now = Date.now()
    return Promise.all(
      list.map(async (q) => {
        const [work, dead, paused, ...levels] = await Promise.all([
          ch.checkQueue(this.topology.work(q)),
          ch.checkQueue(this.topology.dead(q)),
          ch.checkQueue(this.topology.paused(q)),
          ...Array.from({ length: LEVELS }, (_, k) => ch.checkQueue(this.topology.level(q, k))),
        ])
        return {
          queue: q,
          waiting: work!.messageCount,
          delayed: levels.reduce((s, l) => s + l.messageCount, 0),
          active: this.sessions.active(q) + this.leases.active(q),
          dead: dead!.messageCount,
          throughput: this.throughput.rate(q, now),
          paused: paused!.messageCount > 0,
        }
      }),
    )
  }

  listDead(options?: ListDeadOptions): Promise<DeadJob[]> {
    return this.dead.list(options)
  }
  replayDead(ids?: readonly string[]): Promise<number> {
    return this.dead.replay(ids)
  }
  deleteDead(ids?: readonly string[]): Promise<number> {
    return this.dead.delete(ids)
  }
  pruneDead(options: PruneDeadOptions): Promise<number> {
    return this.dead.prune(options)
  }
}
