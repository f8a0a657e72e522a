/** The coordination conformance suite against a real PostgreSQL (a schema of its own, dropped afterwards). */
import type { Coordination } from '../../src/contracts/coordination.js'
import { PostgresCoordination } from '../../src/brokers/postgres/index.js'
import { coordinationConformance } from './coordination-suite.js'
import { postgresTestUrl } from './postgres-env.js'

// Each open() is a separate client with its own pool, as separate processes would be.
const url = postgresTestUrl()
coordinationConformance({
  name: 'postgres',
  open: async () => {
    const c: Coordination = new PostgresCoordination(url)
    await c.connect()
    return c
  },
})
