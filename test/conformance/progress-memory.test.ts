/** The progress conformance suite on the memory engine. */
import { after } from 'node:test'
import { memoryUrls } from '../support/engine-urls.js'
import { progressConformance } from './progress-suite.js'

const engine = memoryUrls()
after(() => engine.cleanup())
progressConformance({ name: engine.name, url: () => engine.url() })
