import { MemoryBroker } from '../../src/brokers/memory/index.js'
import { brokerConformance } from './suite.js'

// One process, one broker: every client of the suite is the same in-process object.
const shared = new MemoryBroker()
brokerConformance({ name: 'memory', open: async () => shared })
