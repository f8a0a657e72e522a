/** The progress conformance suite on the sqlite engine. */
import { after } from 'node:test'
import { sqliteUrls } from '../support/engine-urls.js'
import { progressConformance } from './progress-suite.js'

const engine = sqliteUrls()
after(() => engine.cleanup())
progressConformance({ name: engine.name, url: () => engine.url() })
