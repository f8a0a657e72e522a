/** The worker conformance suite on the PostgreSQL broker (DATABASE_URL; a schema per test, dropped afterwards). */
import { after } from 'node:test'
import { postgresUrls } from '../support/engine-urls.js'
import { workerConformance } from './worker-suite.js'

const engine = postgresUrls()
after(() => engine.cleanup())
workerConformance({ name: engine.name, url: () => engine.url() })
