import { MemoryBroker } from '../../src/brokers/memory/index.js'
import { brokerConformance } from './suite.js'

const shared = new MemoryBroker()
brokerConformance({ name: 'memory', open: async () => shared })
