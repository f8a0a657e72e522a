/**
 * URL schemes → backends. The app, the worker and the CLI only ever ask for a URL; the table of
 * loaders is passed in (the built-in one is `src/backends.ts`, an app adds its own with
 * `createApp({ backends })`), so nothing is registered by importing a module. Loaders are lazy:
 * a driver is imported only when a URL names its scheme.
 */
import type { Backend, BackendFactory } from '../contracts/backend.js'
import type { Broker } from '../contracts/broker.js'
import type { ResultStore } from '../contracts/result-store.js'
import { BUILTIN_BACKENDS } from '../backends.js'
import { BadUrlError } from './errors.js'

/** Scheme (such as 'redis') → a function importing the backend's factory. */
export type BackendLoaders = Readonly<Record<string, () => Promise<BackendFactory>>>

export function schemeOf(url: string, known: readonly string[]): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)
  if (!m) throw new BadUrlError(url, known, 'it has no scheme')
  return m[1]!.toLowerCase()
}

export class BackendRegistry {
  private readonly loaders: BackendLoaders

  constructor(extra: BackendLoaders = {}, base: BackendLoaders = BUILTIN_BACKENDS) {
    this.loaders = { ...base, ...extra }
  }

  schemes(): string[] {
    return Object.keys(this.loaders)
  }

  /** Builds (does not connect) the backend for a URL. */
  async build(url: string): Promise<Backend> {
    const scheme = schemeOf(url, this.schemes())
    const load = Object.hasOwn(this.loaders, scheme) ? this.loaders[scheme] : undefined
    if (!load) throw new BadUrlError(url, this.schemes(), `unknown scheme "${scheme}"`)
    return (await load())(url)
  }
}

const builtin = new BackendRegistry()

/** The URL schemes celeriac ships with. */
export function supportedSchemes(): string[] {
  return builtin.schemes()
}

/** Builds (does not connect) the broker of a URL with a built-in scheme. */
export async function createBroker(url: string): Promise<Broker> {
  const b = await builtin.build(url)
  if (!b.broker) throw new BadUrlError(url, builtin.schemes(), `"${b.scheme}" is not a broker`)
  return b.broker
}

/** Builds (does not connect) the result store of a URL with a built-in scheme. */
export async function createResultStore(url: string): Promise<ResultStore> {
  const b = await builtin.build(url)
  if (!b.results) throw new BadUrlError(url, builtin.schemes(), `"${b.scheme}" cannot store results`)
  return b.results
}
