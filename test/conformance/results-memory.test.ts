import { MemoryResultStore } from '../../src/brokers/memory/index.js'
import { resultStoreConformance } from './results-suite.js'

// One process, one store: every client of the suite is the same in-process object.
const shared = new MemoryResultStore()
resultStoreConformance({ name: 'memory', open: async () => shared })
