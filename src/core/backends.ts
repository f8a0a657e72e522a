/**
 * URL schemes → backends. A backend folder registers its scheme here; the app, the worker and
 * the CLI only ever ask for a URL. Loaders are lazy so that a driver is imported only when used.
 */
import type { Broker } from '../contracts/broker.js'
import type { ResultStore } from '../contracts/result-store.js'
import { BadUrlError } from './errors.js'

export interface BackendFactory {
  broker?: (url: string) => Broker | Promise<Broker>
  results?: (url: string) => ResultStore | Promise<ResultStore>
}

const factories = new Map<string, () => Promise<BackendFactory>>()

/** Registers (or replaces) the loader for a URL scheme such as 'redis'. */
export function registerBackend(scheme: string, load: () => Promise<BackendFactory>): void {
  factories.set(scheme, load)
}

export function supportedSchemes(): string[] {
  return [...factories.keys()]
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)
  if (!m) throw new BadUrlError(url, supportedSchemes(), 'it has no scheme')
  return m[1]!.toLowerCase()
}

async function factoryFor(url: string): Promise<BackendFactory> {
  const scheme = schemeOf(url)
  const load = factories.get(scheme)
  if (!load) throw new BadUrlError(url, supportedSchemes(), `unknown scheme "${scheme}"`)
  return load()
}

/** Builds (does not connect) the broker for a URL. */
export async function createBroker(url: string): Promise<Broker> {
  const f = await factoryFor(url)
  if (!f.broker) throw new BadUrlError(url, supportedSchemes(), `"${schemeOf(url)}" is not a broker`)
  return f.broker(url)
}

/** Builds (does not connect) the result store for a URL. */
export async function createResultStore(url: string): Promise<ResultStore> {
  const f = await factoryFor(url)
  if (!f.results) throw new BadUrlError(url, supportedSchemes(), `"${schemeOf(url)}" cannot store results`)
  return f.results(url)
}

/** Whether a URL's scheme also offers a result store (so it can default to the broker's URL). */
export async function hasResultStore(url: string): Promise<boolean> {
  return (await factoryFor(url)).results !== undefined
}
