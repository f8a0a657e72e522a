/** The progress conformance suite on the redis engine. */
import { after } from 'node:test'
import { redisUrls } from '../support/engine-urls.js'
import { progressConformance } from './progress-suite.js'

const engine = redisUrls()
after(() => engine.cleanup())
progressConformance({ name: engine.name, url: () => engine.url() })
