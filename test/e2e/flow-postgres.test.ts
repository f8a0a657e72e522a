/** Flow control with real worker processes on PostgreSQL (see flow-suite.ts). */
import { postgresUrls } from '../support/engine-urls.js'
import { flowSuite, ofUrls } from './flow-suite.js'

flowSuite(ofUrls(postgresUrls()))
