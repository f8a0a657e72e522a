import { MemoryBroker } from '../../src/brokers/memory/index.js'
import { brokerConformance } from './suite.js'

// One in-process engine; every open() is a client of it with its own open/closed state.
const engine = new MemoryBroker()
brokerConformance({
  name: 'memory',
  open: async () => {
    const b = engine.client()
    await b.connect()
    return b
  },
})
