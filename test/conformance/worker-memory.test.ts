/** The worker conformance suite on the memory broker. */
import { after } from 'node:test'
import { memoryUrls } from '../support/engine-urls.js'
import { workerConformance } from './worker-suite.js'

const engine = memoryUrls()
after(() => engine.cleanup())
workerConformance({ name: engine.name, url: () => engine.url() })
