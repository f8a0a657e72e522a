import { MemoryCoordination } from '../../src/brokers/memory/index.js'
import { coordinationConformance } from './coordination-suite.js'

// Every open() is another client of one in-process state, so closing one leaves the others.
const engine = new MemoryCoordination()
coordinationConformance({ name: 'memory', open: async () => new MemoryCoordination(engine) })
