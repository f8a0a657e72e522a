/** The model test on PostgreSQL (DATABASE_URL): a schema per sequence, dropped afterwards. */
import { after } from 'node:test'
import { PostgresBroker } from '../../src/brokers/postgres/index.js'
import { postgresUrls } from '../support/engine-urls.js'
import { modelTest } from './model.js'

const urls = postgresUrls()
after(() => urls.cleanup())

modelTest({
  name: 'postgres',
  open: async () => {
    const broker = new PostgresBroker(urls.url())
    await broker.connect()
    return { broker, close: () => broker.close() }
  },
})
