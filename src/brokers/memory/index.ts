/**
 * `memory://[name]`: broker and result store in this process. Apps naming the same URL in one
 * process share one instance, so a producer and an in-process worker see the same queue.
 */
import type { BackendFactory } from '../../core/backends.js'
import { MemoryBroker } from './broker.js'
import { MemoryResultStore } from './results.js'

export { MemoryBroker } from './broker.js'
export { MemoryResultStore } from './results.js'

const brokers = new Map<string, MemoryBroker>()
const stores = new Map<string, MemoryResultStore>()

function key(url: string): string {
  return url.replace(/^memory:\/\//i, '') || 'default'
}

export const backend: BackendFactory = {
  broker: (url) => {
    const k = key(url)
    let b = brokers.get(k)
    if (!b) brokers.set(k, (b = new MemoryBroker()))
    return b
  },
  results: (url) => {
    const k = key(url)
    let s = stores.get(k)
    if (!s) stores.set(k, (s = new MemoryResultStore()))
    return s
  },
}
