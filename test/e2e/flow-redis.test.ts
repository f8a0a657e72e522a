/** Flow control with real worker processes on Redis (see flow-suite.ts). */
import { redisUrls } from '../support/engine-urls.js'
import { flowSuite, ofUrls } from './flow-suite.js'

flowSuite(ofUrls(redisUrls()))
