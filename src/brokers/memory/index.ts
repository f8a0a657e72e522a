/**
 * `memory://[name]`: broker, result store and coordination in this process. Apps naming the same
 * URL in one process share one instance, so a producer and an in-process worker see the same queue.
 */
import type { Backend, BackendFactory } from '../../contracts/backend.js'
import { MemoryBroker } from './broker.js'
import { MemoryCoordination } from './coordination.js'
import { MemoryResultStore } from './results.js'

export { MemoryBroker } from './broker.js'
export { MemoryCoordination } from './coordination.js'
export { MemoryResultStore } from './results.js'

interface Shared {
  readonly broker: MemoryBroker
  readonly results: MemoryResultStore
  readonly coordination: MemoryCoordination
  open: number
}

const shared = new Map<string, Shared>()

function key(url: string): string {
  return url.replace(/^memory:\/\//i, '') || 'default'
}

/**
 * Apps naming the same `memory://name` in one process share its parts; each gets its own handle,
 * and the parts close when the last open handle closes.
 */
export const backend: BackendFactory = (url): Backend => {
  const k = key(url)
  let s = shared.get(k)
  if (!s)
    shared.set(
      k,
      (s = {
        broker: new MemoryBroker(),
        results: new MemoryResultStore(),
        coordination: new MemoryCoordination(),
        open: 0,
      }),
    )
  const parts = s
  let isOpen = false
  const all = () => [parts.broker, parts.results, parts.coordination]
  return {
    scheme: 'memory',
    broker: parts.broker,
    results: parts.results,
    coordination: parts.coordination,
    async connect() {
      if (isOpen) return
      isOpen = true
      if (parts.open++ === 0) await Promise.all(all().map((p) => p.connect()))
    },
    async close() {
      if (!isOpen) return
      isOpen = false
      if (--parts.open === 0) await Promise.all(all().map((p) => p.close()))
    },
  }
}
