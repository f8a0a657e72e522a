/**
 * What the worker suite's tests share: a fresh URL per test, apps and workers on it (by URL, or
 * with the engine's broker wrapped in a FaultyBroker), all stopped and closed when the test ends.
 */
import type { Backend } from '../../../src/contracts/backend.js'
import { BackendRegistry, createApp, type App, type AppOptions } from '../../../src/index.js'
import { Worker, type WorkerOptions } from '../../../src/worker/index.js'
import { it } from 'node:test'
import { pino } from 'pino'
import { FaultyBroker } from '../../support/faulty-broker.js'

export interface WorkerTarget {
  readonly name: string
  /** A fresh broker URL of the engine (nothing else uses it). */
  url(): string
  /**
   * Tests this engine is known to fail, by name, with the reason: they run as `todo` (reported,
   * not failing the run) until the engine is fixed and the entry removed.
   */
  readonly known?: Readonly<Record<string, string>>
  /** Options every app of this engine gets (a result backend, for a broker that has none). */
  readonly appOptions?: () => AppOptions
}

const silent = pino({ level: 'silent' })
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits until `check` holds, polling; throws naming `what` after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

export class Harness {
  /** The URL of this test. */
  readonly url: string
  private readonly apps: App[] = []
  private readonly workers: Worker[] = []
  private readonly backends: Backend[] = []

  private readonly appOptions: AppOptions

  constructor(target: WorkerTarget) {
    this.url = target.url()
    this.appOptions = target.appOptions?.() ?? {}
  }

  /** An app on this test's URL. */
  app(options: AppOptions = {}): App {
    const app = createApp({ broker: this.url, ...this.appOptions, ...options })
    this.apps.push(app)
    return app
  }

  /**
   * An app on this test's engine whose broker is wrapped in a FaultyBroker: the engine's own
   * broker and result store for the URL (a connection of their own), coordination by URL.
   */
  async faultyApp(options: AppOptions = {}): Promise<{ app: App; broker: FaultyBroker }> {
    const backend = await new BackendRegistry().build(this.url)
    this.backends.push(backend)
    await backend.connect()
    if (!backend.broker) throw new Error(`${this.url}: no broker to wrap`)
    const broker = new FaultyBroker(backend.broker)
    const app = createApp({
      broker,
      ...(backend.results ? { resultBackend: backend.results, coordination: this.url } : {}),
      ...this.appOptions,
      ...options,
    })
    this.apps.push(app)
    return { app, broker }
  }

  /** A started worker. */
  async worker(app: App, options: WorkerOptions = {}): Promise<Worker> {
    // Named apart: in one process they would share the default name (host and pid), and with it
    // the housekeeping lock's owner.
    const name = `worker-${this.workers.length + 1}@${this.url}`
    const w = new Worker(app, { name, concurrency: 2, logger: silent, shutdownGrace: 1000, ...options })
    this.workers.push(w)
    await w.start()
    return w
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.stop({ grace: 0 })))
    await Promise.allSettled(this.apps.map((a) => a.close()))
    await Promise.allSettled(this.backends.map((b) => b.close()))
  }
}

/** A test run with a harness on a fresh URL, closing everything it opened afterwards. */
export function check(target: WorkerTarget, name: string, fn: (h: Harness) => Promise<void>): void {
  const known = target.known?.[name]
  it(name, known ? { todo: known } : {}, async () => {
    const h = new Harness(target)
    try {
      await fn(h)
    } finally {
      await h.close()
    }
  })
}
