/** The broker conformance suite against a real PostgreSQL (see postgres-env.ts for the URL and cleanup). */
import { PostgresBroker } from '../../src/brokers/postgres/index.js'
import { postgresTestUrl } from './postgres-env.js'
import { brokerConformance } from './suite.js'

// Each open() is a separate broker with its own pool, as separate processes would be.
const url = postgresTestUrl()
brokerConformance({
  name: 'postgres',
  open: async () => {
    const b = new PostgresBroker(url)
    await b.connect()
    return b
  },
})
