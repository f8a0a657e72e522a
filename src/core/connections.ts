/**
 * An app's connections: which URL each part comes from, one backend per URL (built and
 * connected once, shared by every part taken from it), and closing them all.
 */
import type { Backend } from '../contracts/backend.js'
import type { Broker } from '../contracts/broker.js'
import type { Coordination } from '../contracts/coordination.js'
import type { ResultStore } from '../contracts/result-store.js'
import { BackendRegistry, type BackendLoaders } from './backends.js'
import { ConfigError, redactUrl } from './errors.js'

/** What `configure` may change before the app first connects. */
export interface AppConnections {
  readonly broker?: string
  readonly resultBackend?: string | false
  readonly coordination?: string
}

export interface ConnectionOptions {
  readonly broker?: string | Broker
  readonly resultBackend?: string | ResultStore | false
  readonly coordination?: string
  readonly backends?: BackendLoaders
}

export const DEFAULT_BROKER_URL = 'sqlite://./celeriac.db'

function envOr(name: string): string | undefined {
  const v = process.env[name]
  return v === undefined || v === '' ? undefined : v
}

export class Connections {
  private readonly registry: BackendRegistry
  private urls: { broker: string | null; results: string | null | undefined; coordination?: string }
  /** One backend per URL, shared by every part taken from that URL. */
  private readonly backends = new Map<string, Promise<Backend>>()
  private brokerPromise: Promise<Broker> | null = null
  private storePromise: Promise<ResultStore | null> | null = null
  private coordinationPromise: Promise<Coordination | null> | null = null

  constructor(private readonly opts: ConnectionOptions) {
    this.registry = new BackendRegistry(opts.backends)
    const rb = opts.resultBackend
    this.urls = {
      broker:
        typeof opts.broker === 'object'
          ? null
          : (opts.broker ?? envOr('CELERIAC_BROKER') ?? DEFAULT_BROKER_URL),
      // undefined: decided when first needed (the broker's URL if its backend stores results).
      results: rb === false ? null : typeof rb === 'object' ? null : (rb ?? envOr('CELERIAC_RESULT_BACKEND')),
      coordination: opts.coordination ?? envOr('CELERIAC_COORDINATION'),
    }
  }

  get brokerUrl(): string | null {
    return this.urls.broker
  }

  get resultBackendUrl(): string | null | undefined {
    return this.urls.results
  }

  schemes(): string[] {
    return this.registry.schemes()
  }

  configure(connections: AppConnections): void {
    if (this.backends.size || this.brokerPromise || this.storePromise || this.coordinationPromise)
      throw new ConfigError('configure() must be called before the app first connects')
    if (connections.broker !== undefined) {
      if (typeof this.opts.broker === 'object')
        throw new ConfigError('this app was given a broker instance; its URL cannot be changed')
      this.urls.broker = connections.broker
    }
    if (connections.resultBackend !== undefined)
      this.urls.results = connections.resultBackend === false ? null : connections.resultBackend
    if (connections.coordination !== undefined) this.urls.coordination = connections.coordination
  }

  /** The backend of a URL, built and connected once and shared by every part taken from it. */
  private backend(url: string): Promise<Backend> {
    let p = this.backends.get(url)
    if (!p) {
      p = (async () => {
        const b = await this.registry.build(url)
        await b.connect()
        return b
      })()
      this.backends.set(url, p)
      p.catch(() => this.backends.delete(url))
    }
    return p
  }

  /** Memoizes a part's promise, forgetting it when it fails so the next call tries again. */
  private once<T>(
    get: () => Promise<T> | null,
    set: (p: Promise<T> | null) => void,
    make: () => Promise<T>,
  ): Promise<T> {
    let p = get()
    if (!p) {
      p = make()
      set(p)
      p.catch(() => set(null))
    }
    return p
  }

  broker(): Promise<Broker> {
    return this.once(
      () => this.brokerPromise,
      (p) => (this.brokerPromise = p),
      async () => {
        if (typeof this.opts.broker === 'object') {
          await this.opts.broker.connect()
          return this.opts.broker
        }
        const url = this.urls.broker!
        const backend = await this.backend(url)
        if (!backend.broker)
          throw new ConfigError(`${redactUrl(url)}: the ${backend.scheme} backend has no broker`)
        return backend.broker
      },
    )
  }

  resultStore(): Promise<ResultStore | null> {
    return this.once(
      () => this.storePromise,
      (p) => (this.storePromise = p),
      async () => {
        const rb = this.opts.resultBackend
        if (rb === false) return null
        if (typeof rb === 'object') {
          await rb.connect()
          return rb
        }
        const url = this.urls.results
        if (url) {
          const backend = await this.backend(url)
          if (!backend.results)
            throw new ConfigError(`${redactUrl(url)}: the ${backend.scheme} backend cannot store results`)
          return backend.results
        }
        if (url === null || !this.urls.broker) return null
        return (await this.backend(this.urls.broker)).results ?? null
      },
    )
  }

  coordination(): Promise<Coordination | null> {
    return this.once(
      () => this.coordinationPromise,
      (p) => (this.coordinationPromise = p),
      async () => {
        const explicit = this.urls.coordination
        if (explicit) {
          const backend = await this.backend(explicit)
          if (!backend.coordination)
            throw new ConfigError(
              `${redactUrl(explicit)}: the ${backend.scheme} backend has no coordination part`,
            )
          return backend.coordination
        }
        for (const url of [this.urls.broker, this.urls.results]) {
          if (!url) continue
          const c = (await this.backend(url)).coordination
          if (c) return c
        }
        return null
      },
    )
  }

  async close(): Promise<void> {
    const backends = [...this.backends.values()]
    this.backends.clear()
    this.brokerPromise = null
    this.storePromise = null
    this.coordinationPromise = null
    const given = [
      typeof this.opts.broker === 'object' ? this.opts.broker : null,
      typeof this.opts.resultBackend === 'object' ? this.opts.resultBackend : null,
    ]
    await Promise.allSettled([
      ...backends.map(async (p) => (await p).close()),
      ...given.map((part) => part?.close()),
    ])
  }
}
