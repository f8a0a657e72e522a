/**
 * A broker wrapper that injects faults, for tests of what the worker and the app do when the
 * engine misbehaves: a call that fails before it applies ('fail'), fails after it applied (the
 * reply was lost: 'fail-after'), is dropped (answers as if every token were stale: 'drop'), or is
 * slow ({ delayMs }). Faults can be changed while a test runs. It wraps a real broker; nothing is
 * simulated but the fault.
 */
import {
  isPullBroker,
  type Broker,
  type BrokerCapabilities,
  type DeadJob,
  type DeadLetterItem,
  type DeferItem,
  type Delivery,
  type LeaseRef,
  type ListDeadOptions,
  type OutgoingJob,
  type PruneDeadOptions,
  type PublishOptions,
  type PullBroker,
  type QueueStats,
  type ReserveOptions,
  type RetryItem,
} from '../../src/contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../../src/contracts/consumer.js'
import { pullConsume } from '../../src/contracts/pull-consumer.js'

export type Fault = 'fail' | 'fail-after' | 'drop' | { readonly delayMs: number }
type Method =
  | 'publish'
  | 'reserve'
  | 'ack'
  | 'extend'
  | 'release'
  | 'retry'
  | 'defer'
  | 'deadLetter'
  | 'replayDead'
  | 'pruneDead'

/**
 * Wraps a pull broker (its consumer is rebuilt on the wrapped `reserve`, so reserve faults apply)
 * or a push broker (its own consumer; faults apply to the settle calls).
 */
export class FaultyBroker implements PullBroker {
  readonly faults = new Map<Method, Fault>()
  /** Calls made, by method. */
  readonly calls = new Map<Method, number>()

  constructor(readonly inner: Broker) {}

  get scheme(): string {
    return this.inner.scheme
  }
  get capabilities(): BrokerCapabilities {
    return this.inner.capabilities
  }

  private async call<T>(method: Method, run: () => Promise<T>, stale: () => T): Promise<T> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1)
    const fault = this.faults.get(method)
    if (fault === 'fail') throw new Error(`injected fault: ${method} failed`)
    if (fault === 'drop') return stale()
    if (typeof fault === 'object') await new Promise((r) => setTimeout(r, fault.delayMs))
    const out = await run()
    if (fault === 'fail-after') throw new Error(`injected fault: ${method} applied but the reply was lost`)
    return out
  }

  connect(): Promise<void> {
    return this.inner.connect()
  }
  close(): Promise<void> {
    return this.inner.close()
  }
  consume(options: ConsumeOptions): Consumption {
    return isPullBroker(this.inner) ? pullConsume(this, options) : this.inner.consume(options)
  }
  publish(jobs: readonly OutgoingJob[], options?: PublishOptions): Promise<void> {
    return this.call(
      'publish',
      () => this.inner.publish(jobs, options),
      () => undefined,
    )
  }
  reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    const inner = this.inner
    if (!isPullBroker(inner))
      throw new Error(`the ${inner.scheme} broker is a push engine: it has no reserve`)
    return this.call(
      'reserve',
      () => inner.reserve(queues, max, options),
      () => [],
    )
  }
  ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return this.call(
      'ack',
      () => this.inner.ack(refs),
      () => refs.map(() => false),
    )
  }
  extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]> {
    return this.call(
      'extend',
      () => this.inner.extend(refs, leaseMs),
      () => refs.map(() => false),
    )
  }
  release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return this.call(
      'release',
      () => this.inner.release(refs),
      () => refs.map(() => false),
    )
  }
  retry(items: readonly RetryItem[]): Promise<boolean[]> {
    return this.call(
      'retry',
      () => this.inner.retry(items),
      () => items.map(() => false),
    )
  }
  defer(items: readonly DeferItem[]): Promise<boolean[]> {
    return this.call(
      'defer',
      () => this.inner.defer(items),
      () => items.map(() => false),
    )
  }
  deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    return this.call(
      'deadLetter',
      () => this.inner.deadLetter(items),
      () => items.map(() => false),
    )
  }
  listDead(options?: ListDeadOptions): Promise<DeadJob[]> {
    return this.inner.listDead(options)
  }
  replayDead(ids?: readonly string[]): Promise<number> {
    return this.call(
      'replayDead',
      () => this.inner.replayDead(ids),
      () => 0,
    )
  }
  deleteDead(ids?: readonly string[]): Promise<number> {
    return this.inner.deleteDead(ids)
  }
  pruneDead(options: PruneDeadOptions): Promise<number> {
    return this.call(
      'pruneDead',
      () => this.inner.pruneDead(options),
      () => 0,
    )
  }
  pause(queue: string): Promise<void> {
    return this.inner.pause(queue)
  }
  resume(queue: string): Promise<void> {
    return this.inner.resume(queue)
  }
  purge(queue: string): Promise<number> {
    return this.inner.purge(queue)
  }
  stats(queues?: readonly string[]): Promise<QueueStats[]> {
    return this.inner.stats(queues)
  }
}
