/** The worker conformance suite on the SQLite broker (a temp file per test). */
import { after } from 'node:test'
import { sqliteUrls } from '../support/engine-urls.js'
import { workerConformance } from './worker-suite.js'

const engine = sqliteUrls()
after(() => engine.cleanup())
workerConformance({ name: engine.name, url: () => engine.url() })
