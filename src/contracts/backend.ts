/**
 * A backend: what one URL gives, as parts sharing one connection (one SQLite database handle,
 * one set of Redis clients, one pg pool). A part the engine cannot supply is absent: RabbitMQ
 * supplies a broker but no result store, for instance. The app opens one backend per URL and
 * takes every part it needs from it, so parts of one URL never open connections of their own.
 */
import type { Broker } from './broker.js'
import type { Coordination } from './coordination.js'
import type { ResultStore } from './result-store.js'

export interface Backend {
  /** URL scheme, for banners and errors. */
  readonly scheme: string
  readonly broker?: Broker
  readonly results?: ResultStore
  readonly coordination?: Coordination
  /** Opens the shared connection and readies every part (tables, scripts). Idempotent. */
  connect(): Promise<void>
  /** Closes every part and the shared connection. Idempotent. */
  close(): Promise<void>
}

/** Builds (does not connect) the backend for a URL of the scheme it is registered under. */
export type BackendFactory = (url: string) => Backend

/**
 * A backend made of parts that each manage their own connection (or share one that the factory
 * opened and passes to each): connect and close go to every part, once each.
 */
export function composeBackend(
  scheme: string,
  parts: { broker?: Broker; results?: ResultStore; coordination?: Coordination },
  shared?: { connect(): Promise<void>; close(): Promise<void> },
): Backend {
  const all = [parts.broker, parts.results, parts.coordination].filter(
    (p): p is NonNullable<typeof p> => p !== undefined,
  )
  let connecting: Promise<void> | null = null
  let closing: Promise<void> | null = null
  return {
    scheme,
    ...parts,
    connect() {
      connecting ??= (async () => {
        await shared?.connect()
        await Promise.all(all.map((p) => p.connect()))
      })()
      connecting.catch(() => (connecting = null))
      return connecting
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled(all.map((p) => p.close()))
        await shared?.close()
      })()
      return closing
    },
  }
}
