/** The progress conformance suite on the postgres engine. */
import { after } from 'node:test'
import { postgresUrls } from '../support/engine-urls.js'
import { progressConformance } from './progress-suite.js'

const engine = postgresUrls()
after(() => engine.cleanup())
progressConformance({ name: engine.name, url: () => engine.url() })
