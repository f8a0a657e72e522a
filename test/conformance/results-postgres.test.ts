/** The result store conformance suite against a real PostgreSQL (a schema of its own, dropped afterwards). */
import { PostgresResultStore } from '../../src/brokers/postgres/index.js'
import { postgresTestUrl } from './postgres-env.js'
import { resultStoreConformance } from './results-suite.js'

// Each open() is a separate store with its own pool, as separate processes would be.
const url = postgresTestUrl()
resultStoreConformance({
  name: 'postgres',
  open: async () => {
    const s = new PostgresResultStore(url)
    await s.connect()
    return s
  },
})
