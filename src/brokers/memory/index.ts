/**
 * `memory://[name]`: broker, result store and coordination in this process. Apps naming the same
 * URL in one process share one instance, so a producer and an in-process worker see the same queue.
 */
import { composeBackend, type Backend, type BackendFactory } from '../../contracts/backend.js'
import { MemoryBroker } from './broker.js'
import { MemoryCoordination } from './coordination.js'
import { MemoryResultStore } from './results.js'

export { MemoryBroker } from './broker.js'
export { MemoryCoordination } from './coordination.js'
export { MemoryResultStore } from './results.js'

const backends = new Map<string, Backend>()

function key(url: string): string {
  return url.replace(/^memory:\/\//i, '') || 'default'
}

/** Apps naming the same `memory://name` in one process get the same backend. */
export const backend: BackendFactory = (url) => {
  const k = key(url)
  let b = backends.get(k)
  if (!b)
    backends.set(
      k,
      (b = composeBackend('memory', {
        broker: new MemoryBroker(),
        results: new MemoryResultStore(),
        coordination: new MemoryCoordination(),
      })),
    )
  return b
}
